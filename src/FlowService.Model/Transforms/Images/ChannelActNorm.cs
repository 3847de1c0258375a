using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms.Images;

/// <summary>
/// Glow's activation normalization on images (Kingma and Dhariwal 2018, section 3.1): one shift and
/// scale per channel, shared by every pixel, y = (x + shift_c) · exp(logScale_c), log|det| =
/// H·W·Σ_c logScale_c. Parameters <c>shift</c>, <c>logScale</c> (1 x C), zero until
/// <see cref="InitializeFromData"/> makes the first batch's output zero-mean, unit-variance per channel.
/// Rows are HWC images, so the batch seen as (B·H·W) x C pixel rows is a per-column affine map.
/// </summary>
public sealed class ChannelActNorm : ITransform, IDataInitialized
{
    private ParameterSlot? _shift;
    private ParameterSlot? _logScale;

    public ChannelActNorm(ImageShape shape) => Shape = shape;

    public ImageShape Shape { get; }

    public int Features => Shape.Features;

    private ParameterSlot ShiftSlot => _shift ?? throw new InvalidOperationException("Parameters are not declared yet.");

    private ParameterSlot LogScaleSlot => _logScale ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public void DeclareParameters(ParameterScope scope)
    {
        _shift = scope.Add("shift", 1, Shape.Channels);
        _logScale = scope.Add("logScale", 1, Shape.Channels);
    }

    public void InitializeParameters(ParameterInitializer initializer)
    {
        initializer.Constant(ShiftSlot, 0f);
        initializer.Constant(LogScaleSlot, 0f);
    }

    /// <summary>shift = -mean and logScale = -log std of each channel over all rows and pixels (a constant channel keeps logScale 0).</summary>
    public void InitializeFromData(ReadOnlySpan<float> inputs, Span<float> parameters)
    {
        var fitted = Standardization.Fit(inputs, Shape.Channels);
        for (int c = 0; c < Shape.Channels; c++)
        {
            parameters[ShiftSlot.Offset + c] = -fitted.Mean[c];
            parameters[LogScaleSlot.Offset + c] = -MathF.Log(fitted.Std[c]);
        }
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var backend = context.Backend;
        var pixels = x.Reshape(x.Rows * Shape.Pixels, Shape.Channels);
        if (context.RecordForBackward)
            backend.Copy(pixels, context.Workspace.Get(this, "x", pixels.Rows, pixels.Cols));
        // The per-pixel-row log|det| is not the one wanted; the image's is H·W·Σ logScale, added below.
        var pixelLogDet = context.Workspace.Get(this, "pixelLogDet", pixels.Rows, 1);
        backend.ColumnAffineForward(pixels, context.Param(ShiftSlot), context.Param(LogScaleSlot), y.Reshape(pixels.Rows, pixels.Cols), pixelLogDet);
        var scaled = context.Workspace.Get(this, "scaledLogScale", 1, Shape.Channels);
        backend.Scale(context.Param(LogScaleSlot), Shape.Pixels, scaled);
        backend.AddSumToRows(scaled, logDet);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        int pixelRows = y.Rows * Shape.Pixels;
        context.Backend.ColumnAffineInverse(y.Reshape(pixelRows, Shape.Channels), context.Param(ShiftSlot), context.Param(LogScaleSlot),
            x.Reshape(pixelRows, Shape.Channels));
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        var backend = context.Backend;
        int pixelRows = dy.Rows * Shape.Pixels;
        var x = context.Workspace.Get(this, "x", pixelRows, Shape.Channels);
        var noPixelLogDet = context.Workspace.Get(this, "zeroPixelLogDet", pixelRows, 1);
        backend.Fill(noPixelLogDet, 0f);
        backend.ColumnAffineBackward(x, context.Param(ShiftSlot), context.Param(LogScaleSlot), dy.Reshape(pixelRows, Shape.Channels), noPixelLogDet,
            dx.Reshape(pixelRows, Shape.Channels), context.Grad(ShiftSlot), context.Grad(LogScaleSlot));
        var perChannel = context.Workspace.Get(this, "dLogDetSum", 1, Shape.Channels);
        backend.Fill(perChannel, 0f);
        backend.AccumulateSumOfRows(dLogDet, perChannel);
        backend.AddScaled(perChannel, Shape.Pixels, context.Grad(LogScaleSlot));
    }
}
