using FlowService.Model.Compute;

namespace FlowService.Model.Transforms.Leaves;

/// <summary>
/// The affine leaf of RealNVP (Dinh et al. 2017) and MAF (Papamakarios et al. 2017):
/// y = x · exp(s) + shift with the soft-clamped scale s = c · tanh(rawScale / c), so training
/// cannot blow the scale up. Parameters per feature: [shift | rawScale] (kind-major).
/// </summary>
public sealed class AffineLeaf : ICouplingLeaf
{
    public const float DefaultScaleClamp = 3f;

    private static readonly int[] Kinds = { 1, 1 };

    public AffineLeaf(float scaleClamp = DefaultScaleClamp)
    {
        if (!(scaleClamp > 0f) || !float.IsFinite(scaleClamp))
            throw new ArgumentOutOfRangeException(nameof(scaleClamp), $"The scale clamp must be positive and finite, not {scaleClamp}.");
        ScaleClamp = scaleClamp;
    }

    public float ScaleClamp { get; }

    public IReadOnlyList<int> ParametersPerFeatureByKind => Kinds;

    public void Forward(FlowContext context, Tensor x, Tensor parameters, Tensor y, Tensor logDet) =>
        context.Backend.AffineForward(x, parameters, ScaleClamp, y, logDet);

    public void Inverse(FlowContext context, Tensor y, Tensor parameters, Tensor x) =>
        context.Backend.AffineInverse(y, parameters, ScaleClamp, x);

    public void Backward(FlowContext context, Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, Tensor dx, Tensor dParameters) =>
        context.Backend.AffineBackward(x, parameters, dy, dLogDet, ScaleClamp, dx, dParameters);
}
