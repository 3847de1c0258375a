using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Neural;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// A masked autoregressive transform (MAF, Papamakarios et al. 2017; with a spline leaf, the
/// autoregressive NSF of Durkan et al. 2019): y_i = leaf(x_i; θ_i(x_0..x_{i-1}, context)),
/// θ from one <see cref="Made"/> pass over [x | context].
/// </summary>
/// <remarks>
/// Forward (data → latent) is one pass and log|det| = Σ_i log|∂y_i/∂x_i| because the Jacobian
/// is triangular. Inverse takes D passes: pass i recomputes θ from the x_0..x_{i-1} already
/// recovered and inverts feature i (and, harmlessly, the later ones, which the next passes redo).
/// Parameters: <c>conditioner.net.{j}.weight|bias</c>.
/// </remarks>
public sealed class Autoregressive : ITransform
{
    private readonly ICouplingLeaf _leaf;
    private readonly bool _zeroInitialize;

    /// <param name="zeroInitialize">Start with the MADE's output layer at zero, so the transform starts as the identity when the leaf's zero parameters are the identity.</param>
    public Autoregressive(int features, int contextFeatures, IReadOnlyList<int> hidden, ICouplingLeaf leaf,
        FusedActivation activation = FusedActivation.Relu, bool zeroInitialize = false)
    {
        _leaf = leaf;
        _zeroInitialize = zeroInitialize;
        Conditioner = new Made(features, contextFeatures, hidden, leaf.ParametersPerFeatureByKind, activation);
    }

    public int Features => Conditioner.Features;

    public int ContextFeatures => Conditioner.ContextFeatures;

    public Made Conditioner { get; }

    public void DeclareParameters(ParameterScope scope) => Conditioner.DeclareParameters(scope.Scope("conditioner"));

    public void InitializeParameters(ParameterInitializer initializer) => Conditioner.InitializeParameters(initializer, _zeroInitialize);

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var input = ConditionerInput(context, x);
        var parameters = context.Workspace.Get(this, "parameters", x.Rows, Conditioner.OutputFeatures);
        Conditioner.Forward(context, input, parameters);
        _leaf.Forward(context, x, parameters, y, logDet);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        var parameters = context.Workspace.Get(this, "parameters", y.Rows, Conditioner.OutputFeatures);
        context.Backend.Fill(x, 0f);
        for (int pass = 0; pass < Features; pass++)
        {
            Conditioner.Forward(context, ConditionerInput(context, x), parameters);
            _leaf.Inverse(context, y, parameters, x);
        }
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        int rows = dy.Rows;
        var backend = context.Backend;
        var input = context.Workspace.Get(this, "input", rows, Conditioner.InputFeatures);
        var parameters = context.Workspace.Get(this, "parameters", rows, Conditioner.OutputFeatures);
        var x = context.Workspace.Get(this, "x", rows, Features);
        backend.CopyColumns(input, 0, x, 0, Features);

        var dParameters = context.Workspace.Get(this, "dParameters", rows, Conditioner.OutputFeatures);
        _leaf.Backward(context, x, parameters, dy, dLogDet, dx, dParameters);
        var dInput = context.Workspace.Get(this, "dInput", rows, Conditioner.InputFeatures);
        Conditioner.Backward(context, input, parameters, dParameters, dInput);

        backend.AddColumns(dInput, 0, dx, 0, Features);
        if (ContextFeatures > 0 && context.ConditionGradient is { } dContext)
            backend.AddColumns(dInput, Features, dContext, 0, ContextFeatures);
    }

    /// <summary>[x | context] in this transform's input buffer (which Backward reads x back from).</summary>
    private Tensor ConditionerInput(FlowContext context, Tensor x)
    {
        var input = context.Workspace.Get(this, "input", x.Rows, Conditioner.InputFeatures);
        context.Backend.CopyColumns(x, 0, input, 0, Features);
        if (ContextFeatures > 0)
        {
            var condition = context.Condition ?? throw new InvalidOperationException($"This transform is conditional ({ContextFeatures} context features) but the context has no condition.");
            if (condition.Rows != x.Rows || condition.Cols != ContextFeatures)
                throw new ArgumentException($"The condition must be {x.Rows}x{ContextFeatures}, not {condition.Rows}x{condition.Cols}.");
            context.Backend.CopyColumns(condition, 0, input, Features, ContextFeatures);
        }
        return input;
    }
}
