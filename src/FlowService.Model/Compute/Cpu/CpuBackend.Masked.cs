using System.Numerics.Tensors;

namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    public void MaskWeights(Tensor weight, Tensor mask, Tensor masked)
    {
        RequireSameShape(weight, mask);
        RequireSameShape(weight, masked);
        TensorPrimitives.Multiply(weight.Span(), mask.Span(), masked.Span());
    }

    public void AccumulateMaskedGradient(Tensor gradient, Tensor mask, Tensor destination)
    {
        RequireSameShape(gradient, mask);
        RequireSameShape(gradient, destination);
        // destination = gradient · mask + destination, fused.
        TensorPrimitives.FusedMultiplyAdd(gradient.Span(), mask.Span(), destination.Span(), destination.Span());
    }
}
