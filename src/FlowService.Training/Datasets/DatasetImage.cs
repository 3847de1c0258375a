namespace FlowService.Training.Datasets;

/// <summary>
/// What an image dataset records besides its rows: every row is one image of C x H x W values, channels
/// first (the columns are named <c>c{c}_y{y}_x{x}</c> in that order), with pixel values between
/// <see cref="Min"/> and <see cref="Max"/>. <see cref="Discrete"/> when every value is an integer in
/// [0, 255] (8-bit pixels: image flows dequantize them while training and report bits/dim).
/// </summary>
public sealed record DatasetImage(int Channels, int Height, int Width, double Min, double Max, bool Discrete)
{
    public int Features => Channels * Height * Width;

    /// <summary>The column names of a C x H x W image, channels first.</summary>
    public static string[] ColumnNames(int channels, int height, int width)
    {
        var names = new string[channels * height * width];
        for (int c = 0, i = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    names[i++] = $"c{c}_y{y}_x{x}";
        return names;
    }
}
