namespace FlowService.Model.Compute.Cuda;

public sealed unsafe partial class CudaBackend
{
    public void MaskWeights(Tensor weight, Tensor mask, Tensor masked) =>
        ElementWise3(MaskedKernels.Source, "mask_weights", weight, mask, masked);

    public void AccumulateMaskedGradient(Tensor gradient, Tensor mask, Tensor destination) =>
        ElementWise3(MaskedKernels.Source, "accumulate_masked_gradient", gradient, mask, destination);

    /// <summary>Launches kernel(a, b, c, n) over three same-shape tensors.</summary>
    private void ElementWise3(string source, string kernelName, Tensor a, Tensor b, Tensor c)
    {
        RequireSameShape(a, b);
        RequireSameShape(a, c);
        ulong pa = Pointer(a), pb = Pointer(b), pc = Pointer(c);
        long n = a.Length;
        void** args = stackalloc void*[] { &pa, &pb, &pc, &n };
        Launch(Kernel(source, kernelName), n, args);
    }
}
