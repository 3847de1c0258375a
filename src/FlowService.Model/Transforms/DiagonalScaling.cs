using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// A learned diagonal scaling y = x · exp(logScale) per feature, log|det| = Σ logScale: the last
/// layer of NICE (Dinh et al. 2014, section 3.3), which gives the otherwise volume-preserving
/// additive couplings a way to change the density's volume. Parameter: <c>logScale</c> (1 x D),
/// zero (the identity) at initialisation.
/// </summary>
public sealed class DiagonalScaling : ITransform
{
    private ParameterSlot? _logScale;
    private readonly Dictionary<IBackend, Tensor> _zeroShift = new();

    public DiagonalScaling(int features)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        Features = features;
    }

    public int Features { get; }

    public ParameterSlot LogScale => _logScale ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public void DeclareParameters(ParameterScope scope) => _logScale = scope.Add("logScale", 1, Features);

    public void InitializeParameters(ParameterInitializer initializer) => initializer.Constant(LogScale, 0f);

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        // The backward of the scale needs the input; y may alias x, so it is copied first.
        if (context.RecordForBackward)
            context.Backend.Copy(x, context.Workspace.Get(this, "x", x.Rows, x.Cols));
        context.Backend.ColumnAffineForward(x, ZeroShift(context.Backend), context.Param(LogScale), y, logDet);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x) =>
        context.Backend.ColumnAffineInverse(y, ZeroShift(context.Backend), context.Param(LogScale), x);

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        var x = context.Workspace.Get(this, "x", dy.Rows, dy.Cols);
        context.Backend.ColumnAffineBackward(x, ZeroShift(context.Backend), context.Param(LogScale), dy, dLogDet, dx,
            null, context.Grad(LogScale));
    }

    /// <summary>
    /// The column-affine backend op with a shift of zero is exactly this scaling, so the transform
    /// reuses it (on every backend) instead of adding an op; the zeros are uploaded once per backend.
    /// </summary>
    private Tensor ZeroShift(IBackend backend)
    {
        lock (_zeroShift)
        {
            if (!_zeroShift.TryGetValue(backend, out var shift))
            {
                shift = backend.Allocate(1, Features);
                backend.Upload(new float[Features], shift);
                _zeroShift.Add(backend, shift);
            }
            return shift;
        }
    }
}
