using FlowService.Model.Flows;

namespace FlowService.Training.Engine;

/// <summary>
/// A <see cref="NormalizingFlow"/> as the service holds it: the density calls of
/// <see cref="IDensityFlow"/> plus the column names it was trained on, which its checkpoint records,
/// and the <see cref="DefensiveMixture"/> (if any) that the served density mixes in.
/// </summary>
/// <remarks>
/// With a defensive mixture, <see cref="LogProb"/> is the mixture's exact log density and
/// <see cref="Sample"/> draws from the mixture; <see cref="Encode"/> and <see cref="Decode"/> stay the
/// flow component's bijection (z = f(x), x = f⁻¹(z)), which is what a latent code means. The flow's
/// own calls are thread-safe and spread large batches over the cores.
/// </remarks>
public sealed class TrainedFlow(NormalizingFlow flow, IReadOnlyList<string> columns, IReadOnlyList<string> contextColumns, DefensiveMixture? defensive = null) : IDensityFlow
{
    public NormalizingFlow Flow { get; } = flow;

    public IReadOnlyList<string> Columns { get; } = columns;

    public IReadOnlyList<string> ContextColumns { get; } = contextColumns;

    public DefensiveMixture? Defensive { get; } = defensive;

    public int Features => Flow.Features;

    public int ContextFeatures => Flow.ContextFeatures;

    /// <summary>The same flow with <paramref name="mixture"/> as its defensive component.</summary>
    public TrainedFlow WithDefensive(DefensiveMixture? mixture) => new(Flow, Columns, ContextColumns, mixture);

    public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb)
    {
        Flow.LogProb(x, rows, context, logProb);
        if (Defensive is not { } mixture)
            return;
        var component = new double[rows];
        mixture.Component.LogDensity(x, rows, component);
        for (int r = 0; r < rows; r++)
            logProb[r] = (float)mixture.Combine(logProb[r], component[r]);
    }

    public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet) =>
        Flow.Encode(x, rows, context, z, logDet);

    public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x) =>
        Flow.Decode(z, rows, context, x);

    /// <summary>
    /// n draws of the served density: the flow's n samples for <paramref name="seed"/>, of which each row is
    /// replaced, with probability ε (a second generator from the same seed), by a draw of the defensive component at
    /// the same temperature (a Gaussian shrinks with it; a uniform cube has no scale to shrink). Same seed, same samples.
    /// </summary>
    public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
    {
        Flow.Sample(n, seed, temperature, context, x);
        if (Defensive is not { } mixture)
            return;
        var random = new Random(unchecked(seed * 31 + 0x5EED));
        int d = Features;
        for (int r = 0; r < n; r++)
            if (random.NextDouble() < mixture.Weight)
                mixture.Component.SampleRow(random, temperature, x.Slice(r * d, d));
    }
}
