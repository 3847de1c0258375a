using FlowService.Model.Compute;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Distributions;

/// <summary>
/// The base distribution N(0, I): log N(z) = -½|z|² - (D/2) log 2π per row, and seeded sampling
/// with a temperature (z = T · ε, ε ~ N(0, I); T &lt; 1 draws from the denser core). No parameters.
/// </summary>
public sealed class StandardNormal : IBaseDistribution
{
    public static readonly StandardNormal Instance = new();

    private StandardNormal()
    {
    }

    /// <summary>logProb[r] = log N(z[r]; 0, I) (overwrites, rows x 1).</summary>
    public static void LogDensity(IBackend backend, Tensor z, Tensor logProb) => backend.StandardNormalLogDensity(z, logProb);

    /// <summary>d(log N)/dz = -z, scaled: dz = -weight · z (the NLL's gradient with weight = -1/B gives z/B).</summary>
    public static void LogDensityGradient(IBackend backend, Tensor z, float weight, Tensor dz) => backend.Scale(z, -weight, dz);

    /// <summary>Fills <paramref name="z"/> with T · ε, ε drawn from one <see cref="Random"/>(seed): same seed, same samples.</summary>
    public static void Sample(Span<float> z, int seed, float temperature)
    {
        RequireTemperature(temperature);
        var random = new Random(seed);
        for (int i = 0; i < z.Length; i++)
            z[i] = temperature * ParameterInitializer.StandardNormal(random);
    }

    /// <summary>The temperature check every base shares: finite and non-negative.</summary>
    public static void RequireTemperature(float temperature)
    {
        if (!(temperature >= 0f) || !float.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), $"The temperature must be finite and non-negative, not {temperature}.");
    }

    void IBaseDistribution.DeclareParameters(ParameterScope scope)
    {
    }

    void IBaseDistribution.InitializeParameters(ParameterInitializer initializer)
    {
    }

    void IBaseDistribution.LogDensity(FlowContext context, Tensor z, Tensor logProb) => LogDensity(context.Backend, z, logProb);

    void IBaseDistribution.LogDensityBackward(FlowContext context, Tensor z, float scale, Tensor dz) => LogDensityGradient(context.Backend, z, scale, dz);

    void IBaseDistribution.AddLogDensity(ReadOnlySpan<float> parameters, ReadOnlySpan<float> z, Span<float> logProb)
    {
        int features = logProb.Length == 0 ? 0 : z.Length / logProb.Length;
        for (int r = 0; r < logProb.Length; r++)
        {
            double squares = 0;
            for (int j = 0; j < features; j++)
                squares += (double)z[r * features + j] * z[r * features + j];
            logProb[r] += (float)(-0.5 * squares - 0.5 * features * Math.Log(2 * Math.PI));
        }
    }

    void IBaseDistribution.Sample(ReadOnlySpan<float> parameters, Span<float> z, int seed, float temperature) => Sample(z, seed, temperature);
}
