using System.Runtime.CompilerServices;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>
/// A linear layer whose weight is multiplied by a fixed 0/1 mask, followed by an activation:
/// y = f(x (W∘M)ᵀ + b) (MADE, Germain et al. 2015). W is [out, in] as in nn.Linear; the mask is
/// rebuilt from the spec, never a parameter, and masked entries of W receive no gradient.
/// </summary>
public sealed class MaskedLinear
{
    private readonly float[] _mask;
    // One uploaded copy of the mask per backend (the CPU backend is a singleton; a GPU has its own memory).
    private readonly ConditionalWeakTable<IBackend, Tensor> _uploadedMasks = new();
    private ParameterSlot? _weight;
    private ParameterSlot? _bias;

    /// <param name="mask">[out, in] row-major, 0 or 1.</param>
    public MaskedLinear(int inFeatures, int outFeatures, float[] mask, FusedActivation activation)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        if (mask.Length != inFeatures * outFeatures)
            throw new ArgumentException($"A {outFeatures}x{inFeatures} layer needs a mask of {inFeatures * outFeatures} entries, not {mask.Length}.", nameof(mask));
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        _mask = (float[])mask.Clone();
        Activation = activation;
    }

    /// <summary>f, applied after the bias (identity for an output layer).</summary>
    public FusedActivation Activation { get; }

    public int InFeatures { get; }

    public int OutFeatures { get; }

    /// <summary>The mask, [out, in] row-major.</summary>
    public ReadOnlySpan<float> Mask => _mask;

    public ParameterSlot Weight => _weight ?? throw new InvalidOperationException("Parameters are not declared yet.");

    public ParameterSlot Bias => _bias ?? throw new InvalidOperationException("Parameters are not declared yet.");

    /// <summary>Declares <c>weight</c> [out, in] and <c>bias</c> [1, out] in <paramref name="scope"/>.</summary>
    public void DeclareParameters(ParameterScope scope)
    {
        _weight = scope.Add("weight", OutFeatures, InFeatures);
        _bias = scope.Add("bias", 1, OutFeatures);
    }

    /// <summary>nn.Linear's default U(±1/√in) for weight and bias; masked entries are drawn too (and never used), so draws don't depend on the mask.</summary>
    public void InitializeParameters(ParameterInitializer initializer)
    {
        initializer.Uniform(Weight, InFeatures);
        initializer.Uniform(Bias, InFeatures);
    }

    /// <summary>Zero weight and bias: the layer outputs 0 (a conditioner whose last layer is zero makes its transform the identity).</summary>
    public void InitializeToZero(ParameterInitializer initializer)
    {
        initializer.Constant(Weight, 0f);
        initializer.Constant(Bias, 0f);
    }

    /// <summary>y = f(x (W∘M)ᵀ + b); x is rows x in, y rows x out.</summary>
    public void Forward(FlowContext context, Tensor x, Tensor y)
    {
        var backend = context.Backend;
        backend.Gemm(false, true, 1f, x, MaskedWeight(context), 0f, y);
        backend.BiasActivationForward(y, context.Param(Bias), y, Activation);
    }

    /// <summary>
    /// Given the forward's input x and output y and dL/dy, accumulates dW += (dPreᵀ x)∘M and
    /// db += Σ_rows dPre with dPre = dy ⊙ f′; writes dx = dPre (W∘M) when <paramref name="dx"/>
    /// is not null. <paramref name="dy"/> is overwritten with dPre.
    /// </summary>
    public void Backward(FlowContext context, Tensor x, Tensor y, Tensor dy, Tensor? dx)
    {
        var backend = context.Backend;
        backend.BiasActivationBackward(y, dy, dy, context.Grad(Bias), Activation);
        var weightGradient = context.Workspace.Get(this, "dW", OutFeatures, InFeatures);
        backend.Gemm(true, false, 1f, dy, x, 0f, weightGradient);
        backend.AccumulateMaskedGradient(weightGradient, UploadedMask(backend), context.Grad(Weight));
        if (dx is not null)
            backend.Gemm(false, false, 1f, dy, MaskedWeight(context), 0f, dx);
    }

    private Tensor MaskedWeight(FlowContext context)
    {
        var masked = context.Workspace.Get(this, "maskedWeight", OutFeatures, InFeatures);
        context.Backend.MaskWeights(context.Param(Weight), UploadedMask(context.Backend), masked);
        return masked;
    }

    private Tensor UploadedMask(IBackend backend)
    {
        if (_uploadedMasks.TryGetValue(backend, out var mask))
            return mask;
        lock (_uploadedMasks)
        {
            if (!_uploadedMasks.TryGetValue(backend, out mask))
            {
                mask = backend.Allocate(OutFeatures, InFeatures);
                backend.Upload(_mask, mask);
                _uploadedMasks.Add(backend, mask);
            }
            return mask;
        }
    }
}
