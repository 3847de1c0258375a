namespace FlowService.Model.Distributions;

/// <summary>
/// A simple density in the data's own units that a served flow density is mixed with (a defensive mixture): positive
/// wherever data can fall, so it bounds every score from below where a flow is wrong; evaluated in double; sampled
/// exactly, one row at a time.
/// </summary>
public interface IDefensiveDensity
{
    int Features { get; }

    /// <summary>log density per row of row-major <paramref name="x"/>.</summary>
    void LogDensity(ReadOnlySpan<float> x, int rows, Span<double> logProb);

    /// <summary>One draw at <paramref name="temperature"/> (1: the density itself) into <paramref name="x"/>.</summary>
    void SampleRow(Random random, float temperature, Span<float> x);
}
