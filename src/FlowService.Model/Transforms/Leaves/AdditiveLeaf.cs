using FlowService.Model.Compute;

namespace FlowService.Model.Transforms.Leaves;

/// <summary>
/// The additive leaf of NICE (Dinh et al. 2014): y = x + shift, volume preserving (log|det| = 0).
/// Parameters per feature: [shift].
/// </summary>
public sealed class AdditiveLeaf : ICouplingLeaf
{
    private static readonly int[] Kinds = { 1 };

    public IReadOnlyList<int> ParametersPerFeatureByKind => Kinds;

    public void Forward(FlowContext context, Tensor x, Tensor parameters, Tensor y, Tensor logDet)
    {
        context.Backend.Copy(x, y);
        context.Backend.AddScaled(parameters, 1f, y);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor parameters, Tensor x)
    {
        context.Backend.Copy(y, x);
        context.Backend.AddScaled(parameters, -1f, x);
    }

    public void Backward(FlowContext context, Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, Tensor dx, Tensor dParameters)
    {
        context.Backend.Copy(dy, dx);
        context.Backend.Copy(dy, dParameters);
    }
}
