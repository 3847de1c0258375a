namespace FlowService.Model.Transforms.Images;

/// <summary>
/// Channels x height x width of one image. Inside an image flow a row holds one image channels
/// last (index (h·W + w)·C + c, "HWC"); the client's rows are channels first ("CHW", as NCHW arrays),
/// and the flow's first transform reorders them (<see cref="ImagePermutations.ChannelsLast"/>).
/// </summary>
public readonly record struct ImageShape(int Channels, int Height, int Width)
{
    public int Pixels => Height * Width;

    public int Features => Channels * Height * Width;

    /// <summary>The shape after a 2x2 squeeze (space-to-depth): 4C x H/2 x W/2.</summary>
    public ImageShape Squeezed()
    {
        if (Height % 2 != 0 || Width % 2 != 0)
            throw new InvalidOperationException($"A {this} image cannot be squeezed: height and width must be even.");
        return new ImageShape(4 * Channels, Height / 2, Width / 2);
    }

    /// <summary>The shape of the half that stays in the flow after a factor-out: ⌈C/2⌉ x H x W.</summary>
    public ImageShape Kept() => this with { Channels = Channels - Channels / 2 };

    public override string ToString() => $"{Channels}x{Height}x{Width}";
}
