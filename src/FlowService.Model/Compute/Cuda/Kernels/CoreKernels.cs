namespace FlowService.Model.Compute.Cuda;

/// <summary>CUDA C source of the backend's own small kernels (compiled by NVRTC on first use).</summary>
internal static class CoreKernels
{
    public const string Source = """
        extern "C" __global__ void scale_in_place(float* x, float factor, long long n)
        {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
                x[i] *= factor;
        }
        """;
}
