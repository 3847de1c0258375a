using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms.Images;

/// <summary>
/// Glow's invertible 1x1 convolution (Kingma and Dhariwal 2018, section 3.2) in LU form: every
/// pixel's channel vector is mapped by the same C x C matrix W = P · L · (U + diag(exp(logScale)))
/// (as <see cref="LuLinear"/>), log|det| = H·W·Σ logScale. Parameters <c>lower</c>, <c>upper</c>
/// (C x C, strict parts used), <c>logScale</c> (1 x C); P is a fixed seeded permutation. Rows are HWC
/// images, so the batch is one (B·H·W) x C GEMM.
/// </summary>
public sealed class InvertibleConv1x1 : ITransform
{
    private readonly int[] _permutation;
    private ParameterSlot? _lower;
    private ParameterSlot? _upper;
    private ParameterSlot? _logScale;

    public InvertibleConv1x1(ImageShape shape, Random random)
        : this(shape, Transforms.Permutation.Random(shape.Channels, random).Order)
    {
    }

    /// <summary>With a given P: P[i, permutation[i]] = 1.</summary>
    public InvertibleConv1x1(ImageShape shape, IReadOnlyList<int> permutation)
    {
        if (permutation.Count != shape.Channels)
            throw new ArgumentException($"The permutation has {permutation.Count} entries, the image {shape.Channels} channels.", nameof(permutation));
        _permutation = new Transforms.Permutation(permutation).Order.ToArray();  // validates
        Shape = shape;
    }

    public ImageShape Shape { get; }

    public int Features => Shape.Features;

    /// <summary>P[i, Permutation[i]] = 1.</summary>
    public IReadOnlyList<int> Permutation => _permutation;

    private int Channels => Shape.Channels;

    private ParameterSlot Lower => _lower ?? throw new InvalidOperationException("Parameters are not declared yet.");

    private ParameterSlot Upper => _upper ?? throw new InvalidOperationException("Parameters are not declared yet.");

    private ParameterSlot LogScale => _logScale ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public void DeclareParameters(ParameterScope scope)
    {
        _lower = scope.Add("lower", Channels, Channels);
        _upper = scope.Add("upper", Channels, Channels);
        _logScale = scope.Add("logScale", 1, Channels);
    }

    /// <summary>Strict triangles U(-1/√C, 1/√C), logScale 0, as <see cref="LuLinear"/>.</summary>
    public void InitializeParameters(ParameterInitializer initializer)
    {
        initializer.Uniform(Lower, Channels);
        initializer.Uniform(Upper, Channels);
        initializer.Constant(LogScale, 0f);
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var backend = context.Backend;
        int pixelRows = x.Rows * Shape.Pixels;
        var weight = LuWeight.Composed(context, this, Lower, Upper, LogScale, _permutation);
        backend.Gemm(false, true, 1f, x.Reshape(pixelRows, Channels), weight, 0f, y.Reshape(pixelRows, Channels));
        var scaled = context.Workspace.Get(this, "scaledLogScale", 1, Channels);
        backend.Scale(context.Param(LogScale), Shape.Pixels, scaled);
        backend.AddSumToRows(scaled, logDet);
        if (context.RecordForBackward)
            backend.Copy(x, context.Workspace.Get(this, "x", x.Rows, x.Cols));
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        int pixelRows = y.Rows * Shape.Pixels;
        var inverse = LuWeight.Inverse(context, this, Lower, Upper, LogScale, _permutation);
        context.Backend.Gemm(false, true, 1f, y.Reshape(pixelRows, Channels), inverse, 0f, x.Reshape(pixelRows, Channels));
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        var backend = context.Backend;
        int pixelRows = dy.Rows * Shape.Pixels;
        var weight = context.Workspace.Get(this, "weight", Channels, Channels);
        var x = context.Workspace.Get(this, "x", dy.Rows, dy.Cols).Reshape(pixelRows, Channels);
        var dPixels = dy.Reshape(pixelRows, Channels);
        var dWeight = context.Workspace.Get(this, "dWeight", Channels, Channels);
        backend.Gemm(false, false, 1f, dPixels, weight, 0f, dx.Reshape(pixelRows, Channels));
        backend.Gemm(true, false, 1f, dPixels, x, 0f, dWeight);
        backend.LuComposeBackward(context.Param(Lower), context.Param(Upper), context.Param(LogScale), _permutation, dWeight,
            context.Grad(Lower), context.Grad(Upper), context.Grad(LogScale));
        var perChannel = context.Workspace.Get(this, "dLogDetSum", 1, Channels);
        backend.Fill(perChannel, 0f);
        backend.AccumulateSumOfRows(dLogDet, perChannel);
        backend.AddScaled(perChannel, Shape.Pixels, context.Grad(LogScale));
    }
}
