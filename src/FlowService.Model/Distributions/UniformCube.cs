namespace FlowService.Model.Distributions;

/// <summary>
/// The uniform density on [0, high)^D: an image model's defensive component. Pixels of an image flow are values in
/// [0, pixelRange) (dequantized 8-bit pixels in [0, 256)), so its log density there is -D ln(high), 8 bits per value for
/// 8-bit images (the code length of sending the raw bytes), and -∞ outside.
/// </summary>
public sealed class UniformCube : IDefensiveDensity
{
    private readonly double _logDensity;
    private readonly float _largestInside;

    public UniformCube(int features, double high)
    {
        if (features <= 0)
            throw new ArgumentException($"A uniform cube needs at least one dimension, not {features}.", nameof(features));
        if (!(high > 0) || !double.IsFinite(high))
            throw new ArgumentException($"The cube's upper edge must be positive and finite, not {high}.", nameof(high));
        Features = features;
        High = high;
        _logDensity = -features * Math.Log(high);
        // Draws are floats: the largest float below high, where a draw's rounding could otherwise reach high itself.
        _largestInside = (float)high;
        while (_largestInside >= high)
            _largestInside = MathF.BitDecrement(_largestInside);
    }

    public int Features { get; }

    /// <summary>The upper edge of every side; the lower edge is 0.</summary>
    public double High { get; }

    public void LogDensity(ReadOnlySpan<float> x, int rows, Span<double> logProb)
    {
        int d = Features;
        for (int r = 0; r < rows; r++)
        {
            bool inside = true;
            foreach (float v in x.Slice(r * d, d))
                inside &= v >= 0 && v < High;
            logProb[r] = inside ? _logDensity : double.NegativeInfinity;
        }
    }

    /// <summary>
    /// Every value uniform in [0, high). <paramref name="temperature"/> is not applied: a uniform density raised to any
    /// power and renormalized is the same uniform density, so it has no scale to shrink.
    /// </summary>
    public void SampleRow(Random random, float temperature, Span<float> x)
    {
        for (int i = 0; i < x.Length; i++)
            x[i] = Math.Min((float)(random.NextDouble() * High), _largestInside);
    }
}
