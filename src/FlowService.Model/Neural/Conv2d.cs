using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>
/// A 2-D convolution with a 1x1 or 3x3 kernel, stride 1 and zero padding (the output has the input's
/// height and width), bias and a fused activation, on "pixel rows": a batch of B images of H x W
/// pixels is a (B·H·W) x C tensor, channels last. A 1x1 kernel is one GEMM, or one fused pass with its epilogue
/// where the backend has one (<see cref="IBackend.TryConvolve1x1"/>); a 3x3 kernel is im2col
/// (<see cref="IBackend.Im2Col3x3"/>) and one GEMM, or a direct convolution where the backend has one
/// (<see cref="IBackend.TryConvolve3x3"/> and its backward). y = f(conv(x) + b [+ residual]).
/// </summary>
/// <remarks>
/// Parameters: <c>weight</c> [out, k·k·in] in (ky, kx, in) order, which is PyTorch's
/// <c>conv.weight.permute(0, 2, 3, 1).reshape(out, -1)</c>, and <c>bias</c> [1, out]. The im2col
/// buffer is shared by every convolution of a workspace and rebuilt in Backward from the cached
/// input rather than kept per layer: a 28x28 batch of 64 with 64 channels needs 115 MB of columns,
/// which per layer would not fit a deep flow.
/// </remarks>
public sealed class Conv2d
{
    private static readonly object SharedColumns = new();
    private ParameterSlot? _weight;
    private ParameterSlot? _bias;

    public Conv2d(int inChannels, int outChannels, int kernel, FusedActivation activation)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        if (kernel is not (1 or 3))
            throw new ArgumentOutOfRangeException(nameof(kernel), $"Only 1x1 and 3x3 kernels are supported, not {kernel}x{kernel}.");
        InChannels = inChannels;
        OutChannels = outChannels;
        Kernel = kernel;
        Activation = activation;
    }

    public int InChannels { get; }

    public int OutChannels { get; }

    public int Kernel { get; }

    public FusedActivation Activation { get; }

    public ParameterSlot Weight => _weight ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public ParameterSlot Bias => _bias ?? throw new InvalidOperationException("Parameters are not declared yet.");

    private int FanIn => Kernel * Kernel * InChannels;

    public void DeclareParameters(ParameterScope scope)
    {
        _weight = scope.Add("weight", OutChannels, FanIn);
        _bias = scope.Add("bias", 1, OutChannels);
    }

    /// <summary>nn.Conv2d's default U(±1/√fan_in), or zeros (the layer then outputs f(0)).</summary>
    public void InitializeParameters(ParameterInitializer initializer, bool zero)
    {
        if (zero)
        {
            initializer.Constant(Weight, 0f);
            initializer.Constant(Bias, 0f);
            return;
        }
        initializer.Uniform(Weight, FanIn);
        initializer.Uniform(Bias, FanIn);
    }

    /// <summary>y = f(conv(x) + b + residual) for x (B·H·W) x in, y (B·H·W) x out; residual (same shape as y) may be null.</summary>
    public void Forward(FlowContext context, Tensor x, int height, int width, Tensor y, Tensor? residual = null)
    {
        var backend = context.Backend;
        // A direct convolution applies the epilogue as it stores each chunk of outputs: the bias and activation for a 3x3
        // (no residual there: only the blocks' 1x1 convolutions take one), and the residual too for a 1x1.
        if (Kernel == 1 && backend.TryConvolve1x1(x, context.Param(Weight), y, context.Param(Bias), Activation, residual))
            return;
        if (Kernel == 3 && residual is null && backend.TryConvolve3x3(x, height, width, context.Param(Weight), y, context.Param(Bias), Activation))
            return;
        // Otherwise the plain convolution, then the epilogue: the direct path once more only for a 3x3 with a residual (the
        // attempt above would have taken a shape it runs), else im2col and a GEMM.
        bool direct = Kernel == 3 && residual is not null && backend.TryConvolve3x3(x, height, width, context.Param(Weight), y);
        if (!direct)
            backend.Gemm(false, true, 1f, Columns(context, x, height, width), context.Param(Weight), 0f, y);
        if (residual is not null)
            backend.AddScaled(residual, 1f, y);
        backend.BiasActivationForward(y, context.Param(Bias), y, Activation);
    }

    /// <summary>
    /// From the forward's x and y: overwrites <paramref name="dy"/> with dL/dpre-activation (which is
    /// also dL/dresidual), accumulates dW and db, and writes dL/dx when <paramref name="dx"/> is not null.
    /// </summary>
    public void Backward(FlowContext context, Tensor x, int height, int width, Tensor y, Tensor dy, Tensor? dx)
    {
        var backend = context.Backend;
        backend.BiasActivationBackward(y, dy, dy, context.Grad(Bias), Activation);
        if (Kernel == 3 && backend.TryConvolve3x3Backward(x, height, width, context.Param(Weight), dy, context.Grad(Weight), dx))
            return;
        var columns = Columns(context, x, height, width);
        backend.Gemm(true, false, 1f, dy, columns, 1f, context.Grad(Weight));
        if (dx is null)
            return;
        if (Kernel == 1)
        {
            backend.Gemm(false, false, 1f, dy, context.Param(Weight), 0f, dx);
            return;
        }
        // The columns are spent once dW has them: their buffer takes dL/dcolumns.
        backend.Gemm(false, false, 1f, dy, context.Param(Weight), 0f, columns);
        backend.Col2Im3x3(columns, height, width, dx);
    }

    private Tensor Columns(FlowContext context, Tensor x, int height, int width)
    {
        if (Kernel == 1)
            return x;
        var columns = context.Workspace.Get(SharedColumns, $"im2col{InChannels}", x.Rows, 9 * InChannels);
        context.Backend.Im2Col3x3(x, height, width, columns);
        return columns;
    }
}
