namespace FlowService.Model.Compute.Cuda;

/// <summary>The optimizer ops on the device (kernels in Kernels/OptimizerKernels.cs).</summary>
public sealed unsafe partial class CudaBackend
{
    public void AdamWStep(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWStepSettings settings)
    {
        RequireSameShape(parameters, gradients);
        RequireSameShape(parameters, firstMoment);
        RequireSameShape(parameters, secondMoment);
        ulong pp = Pointer(parameters), pg = Pointer(gradients), pm = Pointer(firstMoment), pv = Pointer(secondMoment);
        long n = parameters.Length;
        float beta1 = settings.Beta1, beta2 = settings.Beta2, omb1 = settings.OneMinusBeta1, omb2 = settings.OneMinusBeta2, eps = settings.Epsilon, decay = settings.DecayFactor;
        float stepSize = settings.StepSize, bias2Sqrt = settings.Bias2Sqrt, scale = settings.GradientScale;
        void** args = stackalloc void*[] { &pp, &pg, &pm, &pv, &n, &beta1, &beta2, &omb1, &omb2, &eps, &decay, &stepSize, &bias2Sqrt, &scale };
        Launch(Kernel(OptimizerKernels.Source, "adamw_step"), n, args);
    }

    public void SumOfSquares(Tensor x, Tensor result)
    {
        RequireLength(result, 1);
        // A double accumulator (8 bytes = two zeroed floats) as on the CPU, then one float out.
        // Freed on return: cuMemFree waits for the queued kernels that use it.
        Tensor accumulator = Allocate(1, 2);
        using TensorStorage storage = accumulator.Storage;
        ulong px = Pointer(x), pa = Pointer(accumulator), pr = Pointer(result);
        long n = x.Length;
        void** args = stackalloc void*[] { &px, &n, &pa };
        Launch(Kernel(OptimizerKernels.Source, "sum_of_squares"), n, args);
        void** convert = stackalloc void*[] { &pa, &pr };
        Launch(Kernel(OptimizerKernels.Source, "double_to_float"), 1, 1, 0, convert);
    }
}
