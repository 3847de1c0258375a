namespace FlowService.Model.Compute.Cuda;

/// <summary>CUDA C for MADE's masked weights (IBackend.Masked).</summary>
internal static class MaskedKernels
{
    public const string Source = """
        extern "C" __global__ void mask_weights(const float* weight, const float* mask, float* masked, long long n)
        {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
                masked[i] = weight[i] * mask[i];
        }

        extern "C" __global__ void accumulate_masked_gradient(const float* gradient, const float* mask, float* destination, long long n)
        {
            for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
                destination[i] = fmaf(gradient[i], mask[i], destination[i]);
        }
        """;
}
