using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// Activation normalization (Kingma and Dhariwal 2018, Glow): y = (x + shift) · exp(logScale) per
/// feature, log|det| = Σ logScale. Parameters: <c>shift</c> (1 x D), <c>logScale</c> (1 x D), zero
/// (the identity) until <see cref="InitializeFromData"/> sets them from the first batch so that its
/// output has zero mean and unit variance per feature (shift = -mean, logScale = -log std).
/// </summary>
public sealed class ActNorm : ITransform, IDataInitialized
{
    private ParameterSlot? _shift;
    private ParameterSlot? _logScale;

    public ActNorm(int features)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        Features = features;
    }

    public int Features { get; }

    public ParameterSlot Shift => _shift ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public ParameterSlot LogScale => _logScale ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public void DeclareParameters(ParameterScope scope)
    {
        _shift = scope.Add("shift", 1, Features);
        _logScale = scope.Add("logScale", 1, Features);
    }

    public void InitializeParameters(ParameterInitializer initializer)
    {
        initializer.Constant(Shift, 0f);
        initializer.Constant(LogScale, 0f);
    }

    /// <summary>
    /// The data-dependent initialisation: from the rows this transform receives (host copy,
    /// row-major), writes shift = -mean and logScale = -log std into the host arena
    /// <paramref name="parameters"/>. A constant feature keeps logScale 0.
    /// </summary>
    public void InitializeFromData(ReadOnlySpan<float> inputs, Span<float> parameters)
    {
        var fitted = Standardization.Fit(inputs, Features);
        for (int j = 0; j < Features; j++)
        {
            parameters[Shift.Offset + j] = -fitted.Mean[j];
            parameters[LogScale.Offset + j] = -MathF.Log(fitted.Std[j]);
        }
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        if (context.RecordForBackward)
            context.Backend.Copy(x, context.Workspace.Get(this, "x", x.Rows, x.Cols));
        context.Backend.ColumnAffineForward(x, context.Param(Shift), context.Param(LogScale), y, logDet);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x) =>
        context.Backend.ColumnAffineInverse(y, context.Param(Shift), context.Param(LogScale), x);

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        var x = context.Workspace.Get(this, "x", dy.Rows, dy.Cols);
        context.Backend.ColumnAffineBackward(x, context.Param(Shift), context.Param(LogScale), dy, dLogDet, dx,
            context.Grad(Shift), context.Grad(LogScale));
    }
}
