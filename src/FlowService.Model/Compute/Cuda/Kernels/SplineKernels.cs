namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// CUDA C for the rational-quadratic spline leaf (IBackend.Spline): one thread per element, the
/// same arithmetic in the same order as the scalar reference <c>Cpu/RationalQuadraticSpline.cs</c>
/// (read that file for the math). The bin count is a compile-time constant, so the knot arrays
/// stay in registers; each distinct K compiles once.
/// </summary>
internal static class SplineKernels
{
    private static readonly string?[] Sources = new string?[Cpu.RationalQuadraticSpline.MaxBins + 1];

    /// <summary>The source for K = <paramref name="bins"/>, the same string instance every time (the kernel cache keys launches by identity).</summary>
    public static string Source(int bins) => Sources[bins] ??= $"#define BINS {bins}\n" + Body;

    private const string Body = """
        #define MIN_WIDTH 1e-3f
        #define MIN_HEIGHT 1e-3f
        #define MIN_DERIVATIVE 1e-3f

        __device__ float softplus_(float u) { return u > 0.f ? u + log1pf(expf(-u)) : log1pf(expf(u)); }
        __device__ float sigmoid_(float u) { return u >= 0.f ? 1.f / (1.f + expf(-u)) : expf(u) / (1.f + expf(u)); }

        __device__ void knots(const float* u, float bound, float minimum, float* k, float* p)
        {
            float mx = u[0];
            for (int i = 1; i < BINS; i++) mx = fmaxf(mx, u[i]);
            float sum = 0.f;
            for (int i = 0; i < BINS; i++) { p[i] = expf(u[i] - mx); sum += p[i]; }
            float scale = 1.f - minimum * (float)BINS;
            float span = bound + bound;
            float cumulative = 0.f;
            k[0] = -bound;
            for (int i = 0; i < BINS - 1; i++)
            {
                p[i] /= sum;
                cumulative += minimum + scale * p[i];
                k[i + 1] = span * cumulative - bound;
            }
            p[BINS - 1] /= sum;
            k[BINS] = bound;
        }

        __device__ int find_bin(const float* k, float v)
        {
            int bin = 0;
            for (int j = 1; j < BINS; j++) if (k[j] <= v) bin = j;
            return bin;
        }

        struct Bin { float x, y, w, h, s, d0, d1; };

        __device__ Bin make_bin(const float* kx, const float* ky, const float* ud, int k, float shift)
        {
            Bin b;
            b.x = kx[k]; b.y = ky[k];
            b.w = kx[k + 1] - b.x; b.h = ky[k + 1] - b.y;
            b.s = b.h / b.w;
            b.d0 = k == 0 ? 1.f : MIN_DERIVATIVE + softplus_(ud[k - 1] + shift);
            b.d1 = k == BINS - 1 ? 1.f : MIN_DERIVATIVE + softplus_(ud[k] + shift);
            return b;
        }

        // Row r's parameters: [widths D*K | heights D*K | derivatives D*(K-1)], feature-major then bin.
        #define ELEMENT_PARAMS(base) \
            const float* uw = (base) + i * BINS; \
            const float* uh = (base) + (features + i) * BINS; \
            const float* ud = (base) + 2 * features * BINS + i * (BINS - 1);

        extern "C" __global__ void spline_forward(const float* x, const float* params, long long rows, int features, int pcols,
            float bound, float shift, float* y, float* logDet)
        {
            long long n = rows * features;
            for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x)
            {
                long long r = e / features; int i = (int)(e - r * features);
                float v = x[e];
                if (!(fabsf(v) <= bound)) { y[e] = v; continue; }
                ELEMENT_PARAMS(params + r * pcols)
                float kx[BINS + 1], ky[BINS + 1], p[BINS];
                knots(uw, bound, MIN_WIDTH, kx, p);
                knots(uh, bound, MIN_HEIGHT, ky, p);
                int k = find_bin(kx, v);
                Bin b = make_bin(kx, ky, ud, k, shift);
                float theta = (v - b.x) / b.w;
                float t = theta * (1.f - theta);
                float s = b.s;
                float den = s + (b.d0 + b.d1 - s - s) * t;
                float num = b.h * (s * theta * theta + b.d0 * t);
                float om = 1.f - theta;
                float dnum = s * s * (b.d1 * theta * theta + (s + s) * t + b.d0 * om * om);
                float lad = logf(dnum) - (logf(den) + logf(den));
                y[e] = b.y + num / den;
                atomicAdd(&logDet[r], lad);
            }
        }

        extern "C" __global__ void spline_inverse(const float* y, const float* params, long long rows, int features, int pcols,
            float bound, float shift, float* x)
        {
            long long n = rows * features;
            for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x)
            {
                long long r = e / features; int i = (int)(e - r * features);
                float v = y[e];
                if (!(fabsf(v) <= bound)) { x[e] = v; continue; }
                ELEMENT_PARAMS(params + r * pcols)
                float kx[BINS + 1], ky[BINS + 1], p[BINS];
                knots(uw, bound, MIN_WIDTH, kx, p);
                knots(uh, bound, MIN_HEIGHT, ky, p);
                int k = find_bin(ky, v);
                Bin b = make_bin(kx, ky, ud, k, shift);
                float s = b.s;
                float offset = v - b.y;
                float curvature = b.d0 + b.d1 - s - s;
                float qa = b.h * (s - b.d0) + offset * curvature;
                float qb = b.h * b.d0 - offset * curvature;
                float qc = -s * offset;
                float disc = fmaxf(qb * qb - 4.f * qa * qc, 0.f);
                float theta = (qc + qc) / (-qb - sqrtf(disc));
                x[e] = theta * b.w + b.x;
            }
        }

        __device__ void bin_gradient(const float* p, int k, float gKnot, float gSize, float bound, float minimum, float* g)
        {
            float factor = (bound + bound) * (1.f - minimum * (float)BINS);
            float below = 0.f;
            for (int i = 0; i < k; i++) below += p[i];
            float mean = gKnot * below + gSize * p[k];
            for (int j = 0; j < BINS; j++)
            {
                float gj = j < k ? gKnot : (j == k ? gSize : 0.f);
                g[j] = factor * p[j] * (gj - mean);
            }
        }

        extern "C" __global__ void spline_backward(const float* x, const float* params, const float* dy, const float* dLogDet,
            long long rows, int features, int pcols, float bound, float shift, float* dx, float* dparams)
        {
            long long n = rows * features;
            for (long long e = blockIdx.x * (long long)blockDim.x + threadIdx.x; e < n; e += (long long)gridDim.x * blockDim.x)
            {
                long long r = e / features; int i = (int)(e - r * features);
                ELEMENT_PARAMS(params + r * pcols)
                float* gw = dparams + r * pcols + i * BINS;
                float* gh = dparams + r * pcols + (features + i) * BINS;
                float* gd = dparams + r * pcols + 2 * features * BINS + i * (BINS - 1);
                float v = x[e], g = dy[e], gl = dLogDet[r];
                if (!(fabsf(v) <= bound))
                {
                    for (int j = 0; j < BINS; j++) { gw[j] = 0.f; gh[j] = 0.f; }
                    for (int j = 0; j < BINS - 1; j++) gd[j] = 0.f;
                    dx[e] = g;
                    continue;
                }
                float kx[BINS + 1], ky[BINS + 1], px[BINS], py[BINS];
                knots(uw, bound, MIN_WIDTH, kx, px);
                knots(uh, bound, MIN_HEIGHT, ky, py);
                int k = find_bin(kx, v);
                Bin b = make_bin(kx, ky, ud, k, shift);
                float w = b.w, h = b.h, s = b.s, d0 = b.d0, d1 = b.d1;
                float theta = (v - b.x) / w;
                float om = 1.f - theta;
                float t = theta * om;
                float om2t = 1.f - 2.f * theta;
                float curvature = d0 + d1 - 2.f * s;
                float den = s + curvature * t;
                float pp = s * theta * theta + d0 * t;
                float q = d1 * theta * theta + 2.f * s * t + d0 * om * om;
                float den2 = den * den;
                float yTheta = h * s * q / den2;
                float yS = h * (theta * theta * den - pp * (1.f - 2.f * t)) / den2;
                float yH = pp / den;
                float yD0 = h * t * (den - pp) / den2;
                float yD1 = -h * pp * t / den2;
                float lTheta = (2.f * d1 * theta + 2.f * s * om2t - 2.f * d0 * om) / q - 2.f * curvature * om2t / den;
                float lS = 2.f / s + 2.f * t / q - 2.f * (1.f - 2.f * t) / den;
                float lD0 = om * om / q - 2.f * t / den;
                float lD1 = theta * theta / q - 2.f * t / den;
                float gTheta = g * yTheta + gl * lTheta;
                float gS = g * yS + gl * lS;
                float gX = gTheta / w;
                float gKnotX = -gTheta / w;
                float gWidth = -(gTheta * theta + gS * s) / w;
                float gKnotY = g;
                float gHeight = g * yH + gS / w;
                bin_gradient(px, k, gKnotX, gWidth, bound, MIN_WIDTH, gw);
                bin_gradient(py, k, gKnotY, gHeight, bound, MIN_HEIGHT, gh);
                for (int j = 0; j < BINS - 1; j++) gd[j] = 0.f;
                if (k > 0) gd[k - 1] = (g * yD0 + gl * lD0) * sigmoid_(ud[k - 1] + shift);
                if (k < BINS - 1) gd[k] = (g * yD1 + gl * lD1) * sigmoid_(ud[k] + shift);
                dx[e] = gX;
            }
        }
        """;
}
