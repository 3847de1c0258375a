namespace FlowService.Model.Transforms;

/// <summary>
/// A transform whose starting parameters come from the data it first sees (Glow's ActNorm, the
/// whitening of <see cref="WhiteningLinear"/>), or a base distribution fitted to the latent codes
/// (<see cref="Distributions.GaussianMixtureBase"/>): <see cref="Flows.NormalizingFlow.InitializeFromData"/>
/// runs the first training rows through the chain (and image factor-outs) and calls this with the rows that reach the
/// transform (for a base: the latent z), before any optimizer step.
/// </summary>
public interface IDataInitialized
{
    /// <summary>
    /// From <paramref name="inputs"/> (the rows this transform receives, host copy, row-major), writes
    /// the starting parameters into the host arena <paramref name="parameters"/>.
    /// </summary>
    void InitializeFromData(ReadOnlySpan<float> inputs, Span<float> parameters);
}
