using FlowService.Model.Compute;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Transforms;

/// <summary>
/// A monotonic rational-quadratic spline per feature with its own free parameters, the same for
/// every row (no conditioner): y_i = g(x_i; θ_i), K bins on [-B, B] and identity tails. It reshapes
/// each marginal (skew, heavy shoulders, several modes, bounded support) with d · (3K - 1)
/// parameters, which is what small tabular sets can afford; stacked with
/// <see cref="WhiteningLinear"/> it is a Gaussianization flow (Meng et al. 2020). Parameters:
/// <c>spline</c> (1 x d·(3K-1), grouped as the spline leaf's [widths | heights | derivatives]); all
/// zero is the identity.
/// </summary>
public sealed class ElementwiseSpline : ITransform
{
    private readonly RationalQuadraticSplineLeaf _leaf;
    private readonly float _initialNoise;
    private ParameterSlot? _spline;

    /// <param name="initialNoise">Half-width of the uniform initial parameters; 0 starts as the identity.</param>
    public ElementwiseSpline(int features, int bins, float tailBound, float initialNoise = 0f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        Features = features;
        _leaf = new RationalQuadraticSplineLeaf(bins, tailBound);
        _initialNoise = initialNoise;
        ParametersPerRow = features * _leaf.ParametersPerFeatureByKind.Sum();
    }

    public int Features { get; }

    /// <summary>d · (3K - 1).</summary>
    public int ParametersPerRow { get; }

    private ParameterSlot Spline => _spline ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public void DeclareParameters(ParameterScope scope) => _spline = scope.Add("spline", 1, ParametersPerRow);

    public void InitializeParameters(ParameterInitializer initializer)
    {
        if (_initialNoise > 0)
            initializer.UniformRange(Spline, -_initialNoise, _initialNoise);
        else
            initializer.Constant(Spline, 0f);
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var parameters = LeafParameters(context, x.Rows);
        if (context.RecordForBackward)
            context.Backend.Copy(x, context.Workspace.Get(this, "x", x.Rows, x.Cols));
        _leaf.Forward(context, x, parameters, y, logDet);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x) => _leaf.Inverse(context, y, LeafParameters(context, y.Rows), x);

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        int rows = dy.Rows;
        var x = context.Workspace.Get(this, "x", rows, Features);
        // The forward's parameters: the shared row itself (it cannot move between the two passes), or its broadcast buffer.
        var parameters = context.Backend.SharesSplineParameters ? context.Param(Spline) : context.Workspace.Get(this, "parameters", rows, ParametersPerRow);
        var dParameters = context.Workspace.Get(this, "dParameters", rows, ParametersPerRow);
        _leaf.Backward(context, x, parameters, dy, dLogDet, dx, dParameters);
        // The shared row of parameters collects every row's gradient: 1ᵀ · dθ, accumulated.
        context.Backend.Gemm(true, false, 1f, Ones(context, rows), dParameters, 1f, context.Grad(Spline));
    }

    /// <summary>
    /// The parameters as the spline leaf takes them: the one row θ where the backend lets every row share it (it then
    /// prepares the knots once, not once per row), else θ repeated for every row (1 · θ) in this transform's buffer, which
    /// Backward reads back. The gradient is a row per row either way, summed by Backward in the same order, so both give
    /// the same bits.
    /// </summary>
    private Tensor LeafParameters(FlowContext context, int rows)
    {
        if (context.Backend.SharesSplineParameters)
            return context.Param(Spline);
        var parameters = context.Workspace.Get(this, "parameters", rows, ParametersPerRow);
        context.Backend.Gemm(false, false, 1f, Ones(context, rows), context.Param(Spline), 0f, parameters);
        return parameters;
    }

    private Tensor Ones(FlowContext context, int rows)
    {
        var ones = context.Workspace.Get(this, "ones", rows, 1);
        context.Backend.Fill(ones, 1f);
        return ones;
    }
}
