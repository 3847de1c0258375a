namespace FlowService.Model.Compute.Cuda;

/// <summary>CUDA C for IBackend.Optimizer: the same float32 arithmetic, line for line, as Cpu/CpuBackend.Optimizer.cs.</summary>
internal static class OptimizerKernels
{
    public const string Source = """
        #define GRID_STRIDE(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

        extern "C" __global__ void adamw_step(float* p, const float* g, float* m, float* v, long long n,
            float beta1, float beta2, float oneMinusBeta1, float oneMinusBeta2, float eps, float decay, float stepSize, float bias2Sqrt, float scale)
        {
            GRID_STRIDE(i, n)
            {
                float gi = __fmul_rn(g[i], scale);
                float pi = __fmul_rn(p[i], decay);
                float mi = __fadd_rn(__fmul_rn(m[i], beta1), __fmul_rn(gi, oneMinusBeta1));
                float vi = __fadd_rn(__fmul_rn(v[i], beta2), __fmul_rn(__fmul_rn(gi, gi), oneMinusBeta2));
                float denom = __fadd_rn(__fdiv_rn(sqrtf(vi), bias2Sqrt), eps);
                p[i] = __fsub_rn(pi, __fmul_rn(stepSize, __fdiv_rn(mi, denom)));
                m[i] = mi;
                v[i] = vi;
            }
        }

        extern "C" __global__ void sum_of_squares(const float* x, long long n, double* partial)
        {
            double sum = 0;
            GRID_STRIDE(i, n) { double xi = x[i]; sum += xi * xi; }
            atomicAdd(partial, sum);
        }

        extern "C" __global__ void double_to_float(const double* source, float* destination)
        {
            destination[0] = (float)source[0];
        }
        """;
}
