using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Distributions;

/// <summary>
/// The base distribution N(0, I): log N(z) = -½|z|² - (D/2) log 2π per row, and seeded sampling
/// with a temperature (z = T · ε, ε ~ N(0, I); T &lt; 1 draws from the denser core).
/// </summary>
public static class StandardNormal
{
    /// <summary>logProb[r] = log N(z[r]; 0, I) (overwrites, rows x 1).</summary>
    public static void LogDensity(IBackend backend, Tensor z, Tensor logProb) => backend.StandardNormalLogDensity(z, logProb);

    /// <summary>d(log N)/dz = -z, scaled: dz = -weight · z (the NLL's gradient with weight = -1/B gives z/B).</summary>
    public static void LogDensityGradient(IBackend backend, Tensor z, float weight, Tensor dz) => backend.Scale(z, -weight, dz);

    /// <summary>Fills <paramref name="z"/> with T · ε, ε drawn from one <see cref="Random"/>(seed): same seed, same samples.</summary>
    public static void Sample(Span<float> z, int seed, float temperature)
    {
        if (!(temperature >= 0f) || !float.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), $"The temperature must be finite and non-negative, not {temperature}.");
        var random = new Random(seed);
        for (int i = 0; i < z.Length; i++)
            z[i] = temperature * ParameterInitializer.StandardNormal(random);
    }
}
