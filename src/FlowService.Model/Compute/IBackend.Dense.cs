using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Compute;

public partial interface IBackend
{
    // The element-wise half of a dense layer (after the GEMM), fused: see Cpu/BiasActivation.cs.

    /// <summary>output[r, j] = f(preActivation[r, j] + bias[j]); bias is 1 x cols. In place allowed (output = preActivation).</summary>
    void BiasActivationForward(Tensor preActivation, Tensor bias, Tensor output, FusedActivation activation);

    /// <summary>
    /// dPreActivation = dOutput ⊙ f′ (f′ from the forward's <paramref name="output"/>), and
    /// <paramref name="biasGradient"/> += Σ_rows dPreActivation. In place allowed (dPreActivation = dOutput).
    /// </summary>
    void BiasActivationBackward(Tensor output, Tensor dOutput, Tensor dPreActivation, Tensor biasGradient, FusedActivation activation);
}
