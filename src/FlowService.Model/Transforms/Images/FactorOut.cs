using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms.Images;

/// <summary>
/// The multi-scale factor-out (Dinh et al. 2017, section 3.6): the first <see cref="Kept"/> entries of
/// the row go on through <see cref="Inner"/>; the rest are already latent and pass through unchanged
/// (they go to the standard-normal prior). Preceded by <see cref="ImagePermutations.Split"/>, which puts
/// the kept half of the channels first. Parameters: <c>inner.…</c>.
/// </summary>
public sealed class FactorOut : ITransform
{
    public FactorOut(int features, ITransform inner)
    {
        if (inner.Features >= features)
            throw new ArgumentException($"A factor-out keeps fewer than all {features} features, not {inner.Features}.", nameof(inner));
        Features = features;
        Inner = inner;
    }

    public int Features { get; }

    public int Kept => Inner.Features;

    public ITransform Inner { get; }

    public void DeclareParameters(ParameterScope scope) => Inner.DeclareParameters(scope.Scope("inner"));

    public void InitializeParameters(ParameterInitializer initializer) => Inner.InitializeParameters(initializer);

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var kept = Buffer(context, "x", x.Rows);
        var result = Buffer(context, "y", x.Rows);
        context.Backend.CopyColumns(x, 0, kept, 0, Kept);
        Inner.Forward(context, kept, result, logDet);
        context.Backend.Copy(x, y);
        context.Backend.CopyColumns(result, 0, y, 0, Kept);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        var kept = Buffer(context, "inverseY", y.Rows);
        var result = Buffer(context, "inverseX", y.Rows);
        context.Backend.CopyColumns(y, 0, kept, 0, Kept);
        Inner.Inverse(context, kept, result);
        context.Backend.Copy(y, x);
        context.Backend.CopyColumns(result, 0, x, 0, Kept);
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        var dKept = Buffer(context, "dy", dy.Rows);
        var dResult = Buffer(context, "dx", dy.Rows);
        context.Backend.CopyColumns(dy, 0, dKept, 0, Kept);
        Inner.Backward(context, dKept, dLogDet, dResult);
        context.Backend.Copy(dy, dx);
        context.Backend.CopyColumns(dResult, 0, dx, 0, Kept);
    }

    private Tensor Buffer(FlowContext context, string name, int rows) => context.Workspace.Get(this, name, rows, Kept);
}
