namespace FlowService.Model.Transforms.Images;

/// <summary>
/// The parameter-free reorderings of an image flow, as <see cref="Permutation"/>s of a row
/// (y[:, i] = x[:, order[i]]; log|det| = 0).
/// </summary>
public static class ImagePermutations
{
    /// <summary>Client rows (CHW) to the flow's layout (HWC).</summary>
    public static Permutation ChannelsLast(ImageShape shape)
    {
        var order = new int[shape.Features];
        for (int p = 0; p < shape.Pixels; p++)
            for (int c = 0; c < shape.Channels; c++)
                order[p * shape.Channels + c] = c * shape.Pixels + p;
        return new Permutation(order);
    }

    /// <summary>
    /// The 2x2 squeeze (Dinh et al. 2017, section 3.6) from HWC of C x H x W to HWC of 4C x H/2 x W/2:
    /// output channel c·4 + dy·2 + dx at (h, w) is input channel c at (2h + dy, 2w + dx).
    /// </summary>
    public static Permutation Squeeze(ImageShape shape)
    {
        var squeezed = shape.Squeezed();
        var order = new int[shape.Features];
        for (int h = 0; h < squeezed.Height; h++)
            for (int w = 0; w < squeezed.Width; w++)
                for (int c = 0; c < shape.Channels; c++)
                    for (int dy = 0; dy < 2; dy++)
                        for (int dx = 0; dx < 2; dx++)
                        {
                            int target = (h * squeezed.Width + w) * squeezed.Channels + c * 4 + dy * 2 + dx;
                            order[target] = ((2 * h + dy) * shape.Width + 2 * w + dx) * shape.Channels + c;
                        }
        return new Permutation(order);
    }

    /// <summary>
    /// The split before a factor-out: the first ⌈C/2⌉ channels of every pixel first (HWC of the kept
    /// shape), then the other channels (HWC of ⌊C/2⌋ x H x W), so the kept half is a prefix of the row.
    /// </summary>
    public static Permutation Split(ImageShape shape)
    {
        int kept = shape.Kept().Channels, dropped = shape.Channels - kept;
        var order = new int[shape.Features];
        for (int p = 0; p < shape.Pixels; p++)
        {
            for (int c = 0; c < kept; c++)
                order[p * kept + c] = p * shape.Channels + c;
            for (int c = 0; c < dropped; c++)
                order[shape.Pixels * kept + p * dropped + c] = p * shape.Channels + kept + c;
        }
        return new Permutation(order);
    }
}
