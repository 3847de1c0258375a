using FlowService.Model.Flows;

namespace FlowService.Training.Engine;

/// <summary>
/// A <see cref="NormalizingFlow"/> as the service holds it: the density calls of
/// <see cref="IDensityFlow"/> plus the column names it was trained on, which its checkpoint records.
/// The flow's own calls are thread-safe and spread large batches over the cores.
/// </summary>
public sealed class TrainedFlow(NormalizingFlow flow, IReadOnlyList<string> columns, IReadOnlyList<string> contextColumns) : IDensityFlow
{
    public NormalizingFlow Flow { get; } = flow;

    public IReadOnlyList<string> Columns { get; } = columns;

    public IReadOnlyList<string> ContextColumns { get; } = contextColumns;

    public int Features => Flow.Features;

    public int ContextFeatures => Flow.ContextFeatures;

    public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb) =>
        Flow.LogProb(x, rows, context, logProb);

    public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet) =>
        Flow.Encode(x, rows, context, z, logDet);

    public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x) =>
        Flow.Decode(z, rows, context, x);

    public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x) =>
        Flow.Sample(n, seed, temperature, context, x);
}
