using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>A dense layer with a fused activation: y = f(x Wᵀ + b), W [out, in] and b as in nn.Linear.</summary>
public sealed class Linear
{
    private ParameterSlot? _weight;
    private ParameterSlot? _bias;

    public Linear(int inFeatures, int outFeatures, FusedActivation activation)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Activation = activation;
    }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    public FusedActivation Activation { get; }

    public ParameterSlot Weight => _weight ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public ParameterSlot Bias => _bias ?? throw new InvalidOperationException("Parameters are not declared yet.");

    /// <summary>Declares <c>weight</c> [out, in] and <c>bias</c> [1, out].</summary>
    public void DeclareParameters(ParameterScope scope)
    {
        _weight = scope.Add("weight", OutFeatures, InFeatures);
        _bias = scope.Add("bias", 1, OutFeatures);
    }

    /// <summary>nn.Linear's default U(±1/√in), or zeros (the layer then outputs f(0)).</summary>
    public void InitializeParameters(ParameterInitializer initializer, bool zero)
    {
        if (zero)
        {
            initializer.Constant(Weight, 0f);
            initializer.Constant(Bias, 0f);
            return;
        }
        initializer.Uniform(Weight, InFeatures);
        initializer.Uniform(Bias, InFeatures);
    }

    public void Forward(FlowContext context, Tensor x, Tensor y)
    {
        if (context.ParamTransposed(Weight) is { } weightTransposed)
            context.Backend.Gemm(false, false, 1f, x, weightTransposed, 0f, y);
        else
            context.Backend.Gemm(false, true, 1f, x, context.Param(Weight), 0f, y);
        context.Backend.BiasActivationForward(y, context.Param(Bias), y, Activation);
    }

    /// <summary>Accumulates dW and db from the forward's x and y; writes dx when not null. Overwrites <paramref name="dy"/> with dL/dpre-activation.</summary>
    public void Backward(FlowContext context, Tensor x, Tensor y, Tensor dy, Tensor? dx)
    {
        var backend = context.Backend;
        backend.BiasActivationBackward(y, dy, dy, context.Grad(Bias), Activation);
        backend.Gemm(true, false, 1f, dy, x, 1f, context.Grad(Weight));
        if (dx is not null)
            backend.Gemm(false, false, 1f, dy, context.Param(Weight), 0f, dx);
    }
}
