using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Transforms.Leaves;

/// <summary>
/// The element-wise monotonic rational-quadratic spline (Durkan et al. 2019, "Neural Spline
/// Flows") with K bins on [-B, B] and identity tails: the leaf of NSF's coupling and
/// autoregressive transforms. Per feature the conditioner supplies K unnormalised widths, K
/// heights and K - 1 interior derivatives, grouped by kind: [widths(d·K) | heights(d·K) |
/// derivatives(d·(K-1))]. All-zero parameters are the identity.
/// </summary>
public sealed class RationalQuadraticSplineLeaf : ICouplingLeaf
{
    public RationalQuadraticSplineLeaf(int bins, float tailBound)
    {
        if (bins < 2 || bins > RationalQuadraticSpline.MaxBins)
            throw new ArgumentOutOfRangeException(nameof(bins), $"A spline leaf needs 2..{RationalQuadraticSpline.MaxBins} bins, not {bins}.");
        if (!(tailBound > 0f) || !float.IsFinite(tailBound))
            throw new ArgumentOutOfRangeException(nameof(tailBound), $"The tail bound must be positive and finite, not {tailBound}.");
        Bins = bins;
        TailBound = tailBound;
        ParametersPerFeatureByKind = new[] { bins, bins, bins - 1 };
    }

    public int Bins { get; }

    public float TailBound { get; }

    /// <summary>[K, K, K-1]: widths, heights, interior derivatives.</summary>
    public IReadOnlyList<int> ParametersPerFeatureByKind { get; }

    public void Forward(FlowContext context, Tensor x, Tensor parameters, Tensor y, Tensor logDet) =>
        context.Backend.SplineForward(x, parameters, Bins, TailBound, y, logDet);

    public void Inverse(FlowContext context, Tensor y, Tensor parameters, Tensor x) =>
        context.Backend.SplineInverse(y, parameters, Bins, TailBound, x);

    public void Backward(FlowContext context, Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, Tensor dx, Tensor dParameters) =>
        context.Backend.SplineBackward(x, parameters, dy, dLogDet, Bins, TailBound, dx, dParameters);
}
