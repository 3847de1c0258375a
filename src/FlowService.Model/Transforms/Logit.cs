using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// RealNVP's logit preprocessing for data in [0, 1] (Dinh et al. 2017, section 4.1):
/// z = logit(α + (1 - 2α) x), so the flow models an unbounded variable; α keeps 0 and 1 finite.
/// log|det| = Σ_j [log(1 - 2α) - log s_j - log(1 - s_j)], s = α + (1 - 2α) x; it is part of
/// log p, so scores stay densities of x. No parameters.
/// </summary>
public sealed class Logit : ITransform
{
    /// <summary>RealNVP's value (section 4.1).</summary>
    public const float DefaultAlpha = 0.05f;

    public Logit(int features, float alpha = DefaultAlpha)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        if (!(alpha >= 0f && alpha < 0.5f))
            throw new ArgumentOutOfRangeException(nameof(alpha), $"The logit's alpha must be in [0, 0.5), not {alpha}.");
        Features = features;
        Alpha = alpha;
    }

    public int Features { get; }

    public float Alpha { get; }

    public void DeclareParameters(ParameterScope scope)
    {
    }

    public void InitializeParameters(ParameterInitializer initializer)
    {
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        if (context.RecordForBackward)
            context.Backend.Copy(x, context.Workspace.Get(this, "x", x.Rows, x.Cols));
        context.Backend.LogitForward(x, Alpha, y, logDet);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x) => context.Backend.LogitInverse(y, Alpha, x);

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx) =>
        context.Backend.LogitBackward(context.Workspace.Get(this, "x", dy.Rows, dy.Cols), Alpha, dy, dLogDet, dx);
}
