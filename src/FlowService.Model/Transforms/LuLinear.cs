using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// Glow's invertible 1x1 convolution for vectors (Kingma and Dhariwal 2018), LU-parameterised:
/// y = x Wᵀ with W = P · L · (U + diag(exp(logScale))), L unit lower triangular, U strictly upper
/// triangular, P a fixed permutation (from the seed, not a parameter). log|det| = Σ logScale;
/// the inverse uses triangular solves. Parameters: <c>lower</c>, <c>upper</c> (D x D, only the
/// strict lower / upper parts are used), <c>logScale</c> (1 x D).
/// </summary>
public sealed class LuLinear : ITransform
{
    private readonly int[] _permutation;
    private ParameterSlot? _lower;
    private ParameterSlot? _upper;
    private ParameterSlot? _logScale;

    public LuLinear(int features, Random random)
        : this(Transforms.Permutation.Random(features, random).Order)
    {
    }

    /// <summary>With a given P: P[i, permutation[i]] = 1 (e.g. the PyTorch reference's <c>eye[perm]</c>).</summary>
    public LuLinear(IReadOnlyList<int> permutation)
    {
        _permutation = new Transforms.Permutation(permutation).Order.ToArray();  // validates
        Features = _permutation.Length;
    }

    public int Features { get; }

    /// <summary>P[i, Permutation[i]] = 1.</summary>
    public IReadOnlyList<int> Permutation => _permutation;

    public ParameterSlot Lower => _lower ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public ParameterSlot Upper => _upper ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public ParameterSlot LogScale => _logScale ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public void DeclareParameters(ParameterScope scope)
    {
        _lower = scope.Add("lower", Features, Features);
        _upper = scope.Add("upper", Features, Features);
        _logScale = scope.Add("logScale", 1, Features);
    }

    /// <summary>Strict triangles U(-1/√D, 1/√D), logScale 0: a well-conditioned, non-trivial start.</summary>
    public void InitializeParameters(ParameterInitializer initializer)
    {
        initializer.Uniform(Lower, Features);
        initializer.Uniform(Upper, Features);
        initializer.Constant(LogScale, 0f);
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var backend = context.Backend;
        var weight = LuWeight.Composed(context, this, Lower, Upper, LogScale, _permutation);
        backend.Gemm(false, true, 1f, x, weight, 0f, y);
        backend.AddSumToRows(context.Param(LogScale), logDet);
        if (context.RecordForBackward)
            backend.Copy(x, context.Workspace.Get(this, "x", x.Rows, x.Cols));
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        var inverse = LuWeight.Inverse(context, this, Lower, Upper, LogScale, _permutation);
        context.Backend.Gemm(false, true, 1f, y, inverse, 0f, x);
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        var backend = context.Backend;
        var weight = context.Workspace.Get(this, "weight", Features, Features);
        var x = context.Workspace.Get(this, "x", dy.Rows, dy.Cols);
        var dWeight = context.Workspace.Get(this, "dWeight", Features, Features);
        backend.Gemm(false, false, 1f, dy, weight, 0f, dx);
        backend.Gemm(true, false, 1f, dy, x, 0f, dWeight);
        backend.LuComposeBackward(context.Param(Lower), context.Param(Upper), context.Param(LogScale), _permutation, dWeight,
            context.Grad(Lower), context.Grad(Upper), context.Grad(LogScale));
        backend.AccumulateSumOfRows(dLogDet, context.Grad(LogScale));
    }
}
