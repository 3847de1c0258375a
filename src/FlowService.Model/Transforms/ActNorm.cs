using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// Activation normalization (Kingma and Dhariwal 2018, Glow): y = (x + shift) · exp(logScale) per
/// feature, log|det| = Σ logScale. Parameters: <c>shift</c> (1 x D), <c>logScale</c> (1 x D), zero
/// (the identity) until <see cref="InitializeFromData"/> sets them from the first batch so that its
/// output has zero mean and unit variance per feature (shift = -mean, logScale = -log std).
/// </summary>
/// <remarks>
/// With a <see cref="StdFloor"/> f &gt; 0 the fitted std of a feature is at least f times the std of all the
/// initialisation values pooled together, so logScale ≤ -log(f · pooled std). Why: a feature that is almost
/// constant in the initialisation rows (an image's empty border pixel: only its dequantization noise, std 0.02 in
/// logit units against 1.9 pooled) would otherwise be stretched 50x, and the rare row with a real value there
/// leaves the ActNorm at ~100 standard deviations and the loss at 10⁸ nats (docs/ENGINE.md, "Image flows").
/// </remarks>
public sealed class ActNorm : ITransform, IDataInitialized
{
    private ParameterSlot? _shift;
    private ParameterSlot? _logScale;

    /// <param name="features">D.</param>
    /// <param name="stdFloor">f: the smallest fitted std as a fraction of the pooled std (0: no floor).</param>
    public ActNorm(int features, float stdFloor = 0f)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        if (!(stdFloor >= 0f) || !float.IsFinite(stdFloor))
            throw new ArgumentOutOfRangeException(nameof(stdFloor), stdFloor, "The std floor is a non-negative fraction of the pooled std.");
        Features = features;
        StdFloor = stdFloor;
    }

    public int Features { get; }

    /// <summary>The smallest fitted std of <see cref="InitializeFromData"/>, as a fraction of the pooled std of all its values.</summary>
    public float StdFloor { get; }

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
    /// row-major), writes shift = -mean and logScale = -log max(std, floor) into the host arena
    /// <paramref name="parameters"/>. A constant feature keeps logScale 0 (or -log floor when the floor is above 1).
    /// </summary>
    public void InitializeFromData(ReadOnlySpan<float> inputs, Span<float> parameters)
    {
        var fitted = Standardization.Fit(inputs, Features);
        float floor = StdFloor > 0f ? (float)(StdFloor * PooledStd(inputs)) : 0f;
        for (int j = 0; j < Features; j++)
        {
            parameters[Shift.Offset + j] = -fitted.Mean[j];
            parameters[LogScale.Offset + j] = -MathF.Log(MathF.Max(fitted.Std[j], floor));
        }
    }

    /// <summary>The population std of every value of <paramref name="inputs"/> taken as one sample, in double.</summary>
    public static double PooledStd(ReadOnlySpan<float> inputs)
    {
        double sum = 0;
        foreach (float v in inputs)
            sum += v;
        double mean = sum / inputs.Length, squares = 0;
        foreach (float v in inputs)
            squares += (v - mean) * (v - mean);
        return Math.Sqrt(squares / inputs.Length);
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
