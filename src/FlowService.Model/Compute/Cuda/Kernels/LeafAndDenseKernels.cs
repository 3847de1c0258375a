namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// CUDA C for the affine leaf (IBackend.Affine), the dense layer's bias + activation
/// (IBackend.Dense) and column moves (IBackend.Columns): one thread per element, the same
/// arithmetic as the CPU backend's files of those names.
/// </summary>
internal static class LeafAndDenseKernels
{
    public const string Source = """
        #define GRID_STRIDE(i, n) for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

        extern "C" __global__ void affine_forward(const float* x, const float* p, long long rows, int d, float clamp, float* y, float* logDet)
        {
            GRID_STRIDE(e, rows * d)
            {
                long long r = e / d; int i = (int)(e % d);
                const float* pr = p + r * 2 * d;
                float s = clamp * tanhf(pr[d + i] / clamp);
                y[e] = x[e] * expf(s) + pr[i];
                atomicAdd(logDet + r, s);
            }
        }

        extern "C" __global__ void affine_inverse(const float* y, const float* p, long long rows, int d, float clamp, float* x)
        {
            GRID_STRIDE(e, rows * d)
            {
                long long r = e / d; int i = (int)(e % d);
                const float* pr = p + r * 2 * d;
                x[e] = (y[e] - pr[i]) * expf(-clamp * tanhf(pr[d + i] / clamp));
            }
        }

        extern "C" __global__ void affine_backward(const float* x, const float* p, const float* dy, const float* dLogDet,
            long long rows, int d, float clamp, float* dx, float* dp)
        {
            GRID_STRIDE(e, rows * d)
            {
                long long r = e / d; int i = (int)(e % d);
                const float* pr = p + r * 2 * d;
                float* gp = dp + r * 2 * d;
                float t = tanhf(pr[d + i] / clamp);
                float scale = expf(clamp * t);
                float g = dy[e];
                dx[e] = g * scale;
                gp[i] = g;
                gp[d + i] = (g * x[e] * scale + dLogDet[r]) * (1.f - t * t);
            }
        }

        __device__ float activate(float v, int a)
        {
            switch (a) { case 1: return v > 0.f ? v : 0.f; case 2: return tanhf(v); case 3: return v > 0.f ? v : expf(v) - 1.f; default: return v; }
        }

        __device__ float derivative_from_output(float y, int a)
        {
            switch (a) { case 1: return y > 0.f ? 1.f : 0.f; case 2: return 1.f - y * y; case 3: return y > 0.f ? 1.f : y + 1.f; default: return 1.f; }
        }

        extern "C" __global__ void bias_activation_forward(const float* pre, const float* bias, float* out, long long n, int cols, int a)
        {
            GRID_STRIDE(i, n) out[i] = activate(pre[i] + bias[i % cols], a);
        }

        extern "C" __global__ void activation_backward(const float* out, const float* dOut, float* dPre, long long n, int a)
        {
            GRID_STRIDE(i, n) dPre[i] = dOut[i] * derivative_from_output(out[i], a);
        }

        extern "C" __global__ void column_sums_accumulate(const float* m, long long rows, int cols, float* sums)
        {
            GRID_STRIDE(j, (long long)cols)
            {
                float s = 0.f;
                for (long long r = 0; r < rows; r++) s += m[r * cols + j];
                sums[j] += s;
            }
        }

        extern "C" __global__ void copy_columns(const float* src, int srcCols, int srcColumn, float* dst, int dstCols, int dstColumn,
            long long rows, int count, int accumulate)
        {
            GRID_STRIDE(e, rows * count)
            {
                long long r = e / count; int c = (int)(e % count);
                float v = src[r * srcCols + srcColumn + c];
                float* target = dst + r * dstCols + dstColumn + c;
                *target = accumulate ? *target + v : v;
            }
        }

        extern "C" __global__ void gather_columns(const float* src, int srcCols, const float* indices, float* dst, int dstCols, int dstColumn,
            long long rows, int count)
        {
            GRID_STRIDE(e, rows * count)
            {
                long long r = e / count; int c = (int)(e % count);
                dst[r * dstCols + dstColumn + c] = src[r * srcCols + (int)indices[c]];
            }
        }

        extern "C" __global__ void scatter_columns(const float* src, int srcCols, int srcColumn, const float* indices, float* dst, int dstCols,
            long long rows, int count, int accumulate)
        {
            GRID_STRIDE(e, rows * count)
            {
                long long r = e / count; int c = (int)(e % count);
                float v = src[r * srcCols + srcColumn + c];
                float* target = dst + r * dstCols + (int)indices[c];
                *target = accumulate ? *target + v : v;
            }
        }
        """;
}
