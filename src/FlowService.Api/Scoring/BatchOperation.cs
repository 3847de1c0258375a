using FlowService.Api.Observability;
using FlowService.Training.Engine;

namespace FlowService.Api.Scoring;

/// <summary>
/// What a <see cref="DynamicBatcher"/> merges requests for: the widths of a request row's input, context
/// and output planes, and the engine call that computes a whole batch of them.
/// </summary>
public sealed record BatchOperation(InferenceOperation Kind, int InputWidth, int ContextWidth, int Output0Width, int Output1Width, BatchKernel Kernel)
{
    /// <summary>log p(x): x (D) and context (C) in, log p (1) out.</summary>
    public static BatchOperation Score(IDensityFlow flow) => new(InferenceOperation.Score, flow.Features, flow.ContextFeatures, 1, 0,
        (x, c, rows, logProb, _) => flow.LogProb(x, rows, c, logProb));

    /// <summary>z = f(x): x (D) and context (C) in, z (D) and log|det| (1) out.</summary>
    public static BatchOperation Encode(IDensityFlow flow) => new(InferenceOperation.Encode, flow.Features, flow.ContextFeatures, flow.Features, 1,
        (x, c, rows, z, logDet) => flow.Encode(x, rows, c, z, logDet));

    /// <summary>x = f⁻¹(z): z (D) and context (C) in, x (D) out.</summary>
    public static BatchOperation Decode(IDensityFlow flow) => new(InferenceOperation.Decode, flow.Features, flow.ContextFeatures, flow.Features, 0,
        (z, c, rows, x, _) => flow.Decode(z, rows, c, x));
}
