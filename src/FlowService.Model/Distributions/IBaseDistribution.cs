using FlowService.Model.Parameters;
using FlowService.Model.Transforms;
using FlowService.Model.Compute;

namespace FlowService.Model.Distributions;

/// <summary>
/// The distribution of the latent z = f(x) of a flow: log p(x) = log p_base(f(x)) + log|det ∂f/∂x|.
/// <see cref="StandardNormal"/> (no parameters) unless the spec asks for a <see cref="GaussianMixtureBase"/>,
/// whose parameters live in the flow's arena after the transforms' (prefix <c>base.</c>), so the trainer,
/// the optimizer and checkpoints carry them like any weight.
/// </summary>
public interface IBaseDistribution
{
    /// <summary>Declares the parameters (names relative to <paramref name="scope"/>); none for N(0, I).</summary>
    void DeclareParameters(ParameterScope scope);

    /// <summary>Writes starting values into the host arena, drawing from the initializer after the transforms.</summary>
    void InitializeParameters(ParameterInitializer initializer);

    /// <summary>logProb[r] = log p(z[r]) (overwrites; rows x 1), on the context's backend (training path).</summary>
    void LogDensity(FlowContext context, Tensor z, Tensor logProb);

    /// <summary>
    /// Overwrites dz = scale · ∂ log p(z[r]) / ∂z[r] per row and <b>accumulates</b> scale · Σ_r ∂ log p(z[r]) / ∂θ
    /// into the context's gradient arena. For the NLL with weight w per row, scale = -w.
    /// </summary>
    void LogDensityBackward(FlowContext context, Tensor z, float scale, Tensor dz);

    /// <summary>logProb[r] += log p(z[r]) in double precision, on the host, from the host arena <paramref name="parameters"/>.</summary>
    void AddLogDensity(ReadOnlySpan<float> parameters, ReadOnlySpan<float> z, Span<float> logProb);

    /// <summary>Fills <paramref name="z"/> (rows x D) with draws whose noise is scaled by <paramref name="temperature"/>; one <see cref="Random"/>(seed): same seed, same samples.</summary>
    void Sample(ReadOnlySpan<float> parameters, Span<float> z, int seed, float temperature);
}
