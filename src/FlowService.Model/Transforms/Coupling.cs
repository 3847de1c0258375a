using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Neural;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// A coupling transform (Dinh et al. 2014/2017; with a spline leaf, Durkan et al. 2019):
/// y[:, identity] = x[:, identity], y[:, transformed] = leaf(x[:, transformed]; θ) with
/// θ = MLP([x[:, identity] | context]). Exact inverse in one pass; log|det| is the leaf's.
/// Parameters: <c>conditioner.net.{j}.weight|bias</c>.
/// </summary>
public sealed class Coupling : ITransform
{
    private readonly int[] _identity;
    private readonly int[] _transformed;
    private readonly ICouplingLeaf _leaf;
    private readonly bool _zeroInitialize;

    public Coupling(int[] identity, int[] transformed, int contextFeatures, IReadOnlyList<int> hidden, ICouplingLeaf leaf,
        FusedActivation activation = FusedActivation.Relu, bool zeroInitialize = false)
        : this(identity, transformed, contextFeatures, new Mlp(identity.Length + contextFeatures, hidden, transformed.Length * leaf.ParametersPerFeatureByKind.Sum(), activation),
            leaf, zeroInitialize)
    {
    }

    /// <summary>A coupling with a given conditioner (e.g. <see cref="AttentionConditioner"/>): In = identity + context, Out = transformed · Σ leaf kinds.</summary>
    public Coupling(int[] identity, int[] transformed, int contextFeatures, IConditioner conditioner, ICouplingLeaf leaf, bool zeroInitialize = false)
    {
        if (identity.Length == 0 || transformed.Length == 0)
            throw new ArgumentException("A coupling needs at least one identity and one transformed feature.");
        var all = identity.Concat(transformed).OrderBy(i => i).ToArray();
        if (!all.SequenceEqual(Enumerable.Range(0, all.Length)))
            throw new ArgumentException("Identity and transformed features must split 0..D-1.");
        _identity = (int[])identity.Clone();
        _transformed = (int[])transformed.Clone();
        _leaf = leaf;
        _zeroInitialize = zeroInitialize;
        ContextFeatures = contextFeatures;
        if (conditioner.InFeatures != identity.Length + contextFeatures || conditioner.OutFeatures != transformed.Length * leaf.ParametersPerFeatureByKind.Sum())
            throw new ArgumentException("The conditioner's shape does not match the coupling's identity, context and leaf parameters.", nameof(conditioner));
        Conditioner = conditioner;
    }

    /// <summary>Alternating halves: even layers keep the first ⌊D/2⌋ features and transform the rest; odd layers the reverse.</summary>
    public static (int[] Identity, int[] Transformed) Halves(int features, int layer)
    {
        var first = Enumerable.Range(0, features / 2).ToArray();
        var second = Enumerable.Range(features / 2, features - features / 2).ToArray();
        return layer % 2 == 0 ? (first, second) : (second, first);
    }

    public int Features => _identity.Length + _transformed.Length;

    public int ContextFeatures { get; }

    public IConditioner Conditioner { get; }

    public void DeclareParameters(ParameterScope scope) => Conditioner.DeclareParameters(scope.Scope("conditioner"));

    public void InitializeParameters(ParameterInitializer initializer) => Conditioner.InitializeParameters(initializer, _zeroInitialize);

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var (_, parameters) = Condition(context, x);
        var part = Buffer(context, "xT", x.Rows, _transformed.Length);
        var result = Buffer(context, "yT", x.Rows, _transformed.Length);
        context.Backend.GatherColumns(x, _transformed, part, 0);
        _leaf.Forward(context, part, parameters, result, logDet);
        context.Backend.Copy(x, y);
        context.Backend.ScatterColumns(result, 0, _transformed, y, accumulate: false);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        var (_, parameters) = Condition(context, y);
        var part = Buffer(context, "yT", y.Rows, _transformed.Length);
        var result = Buffer(context, "xTInverse", y.Rows, _transformed.Length);
        context.Backend.GatherColumns(y, _transformed, part, 0);
        _leaf.Inverse(context, part, parameters, result);
        context.Backend.Copy(y, x);
        context.Backend.ScatterColumns(result, 0, _transformed, x, accumulate: false);
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        int rows = dy.Rows;
        var backend = context.Backend;
        var input = Buffer(context, "input", rows, Conditioner.InFeatures);
        var parameters = Buffer(context, "parameters", rows, Conditioner.OutFeatures);
        var part = Buffer(context, "xT", rows, _transformed.Length);
        var dPart = Buffer(context, "dyT", rows, _transformed.Length);
        var dResult = Buffer(context, "dxT", rows, _transformed.Length);
        var dParameters = Buffer(context, "dParameters", rows, Conditioner.OutFeatures);
        var dInput = Buffer(context, "dInput", rows, Conditioner.InFeatures);

        backend.GatherColumns(dy, _transformed, dPart, 0);
        _leaf.Backward(context, part, parameters, dPart, dLogDet, dResult, dParameters);
        Conditioner.Backward(context, input, parameters, dParameters, dInput);
        backend.Copy(dy, dx);
        backend.ScatterColumns(dResult, 0, _transformed, dx, accumulate: false);
        backend.ScatterColumns(dInput, 0, _identity, dx, accumulate: true);
        if (ContextFeatures > 0 && context.ConditionGradient is { } dContext)
            backend.AddColumns(dInput, _identity.Length, dContext, 0, ContextFeatures);
    }

    /// <summary>θ = MLP([v[:, identity] | context]) into this transform's buffers (Backward reads them back).</summary>
    private (Tensor Input, Tensor Parameters) Condition(FlowContext context, Tensor v)
    {
        var input = Buffer(context, "input", v.Rows, Conditioner.InFeatures);
        context.Backend.GatherColumns(v, _identity, input, 0);
        if (ContextFeatures > 0)
        {
            var condition = context.Condition ?? throw new InvalidOperationException($"This transform is conditional ({ContextFeatures} context features) but the context has no condition.");
            if (condition.Rows != v.Rows || condition.Cols != ContextFeatures)
                throw new ArgumentException($"The condition must be {v.Rows}x{ContextFeatures}, not {condition.Rows}x{condition.Cols}.");
            context.Backend.CopyColumns(condition, 0, input, _identity.Length, ContextFeatures);
        }
        var parameters = Buffer(context, "parameters", v.Rows, Conditioner.OutFeatures);
        Conditioner.Forward(context, input, parameters);
        return (input, parameters);
    }

    private Tensor Buffer(FlowContext context, string name, int rows, int cols) => context.Workspace.Get(this, name, rows, cols);
}
