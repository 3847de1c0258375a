using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// C = alpha · A · Bᵀ + beta · C for a few rows of A (m ≤ <see cref="MaxRows"/>), as dot products:
/// with op(B) = Bᵀ both A's rows and B's rows run along k, so every element of C is one contiguous
/// dot product and nothing needs packing.
/// </summary>
/// <remarks>
/// Why: the blocked driver packs a transposed B strip by strip before it multiplies, which costs
/// about one scalar copy per element of B. Amortised over a 256-row shard that is a few percent;
/// for a single row (scoring latency: y = x·Wᵀ of one row) the pack is ~15x the multiply. Two rows of
/// A share each load of four B rows (8 accumulators, 6 loads per 8 FMAs).
/// </remarks>
internal static unsafe class DotProductGemm
{
    /// <summary>Up to this many rows the dot products beat packing B (measured: 1x128x128 21 µs packed).</summary>
    public const int MaxRows = 16;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(int m, int n, int k, float alpha, float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc)
    {
        int i = 0;
        for (; i + 2 <= m; i += 2)
        {
            float* a0 = a + i * lda, a1 = a0 + lda;
            float* c0 = c + i * ldc, c1 = c0 + ldc;
            int j = 0;
            for (; j + 4 <= n; j += 4)
            {
                float* b0 = b + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
                Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default;
                Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default;
                int p = 0;
                for (; p + 8 <= k; p += 8)
                {
                    var x0 = Vector256.Load(a0 + p);
                    var x1 = Vector256.Load(a1 + p);
                    var w = Vector256.Load(b0 + p);
                    s00 = Vector256.FusedMultiplyAdd(x0, w, s00);
                    s10 = Vector256.FusedMultiplyAdd(x1, w, s10);
                    w = Vector256.Load(b1 + p);
                    s01 = Vector256.FusedMultiplyAdd(x0, w, s01);
                    s11 = Vector256.FusedMultiplyAdd(x1, w, s11);
                    w = Vector256.Load(b2 + p);
                    s02 = Vector256.FusedMultiplyAdd(x0, w, s02);
                    s12 = Vector256.FusedMultiplyAdd(x1, w, s12);
                    w = Vector256.Load(b3 + p);
                    s03 = Vector256.FusedMultiplyAdd(x0, w, s03);
                    s13 = Vector256.FusedMultiplyAdd(x1, w, s13);
                }
                float t00 = Vector256.Sum(s00), t01 = Vector256.Sum(s01), t02 = Vector256.Sum(s02), t03 = Vector256.Sum(s03);
                float t10 = Vector256.Sum(s10), t11 = Vector256.Sum(s11), t12 = Vector256.Sum(s12), t13 = Vector256.Sum(s13);
                for (; p < k; p++)
                {
                    t00 += a0[p] * b0[p]; t01 += a0[p] * b1[p]; t02 += a0[p] * b2[p]; t03 += a0[p] * b3[p];
                    t10 += a1[p] * b0[p]; t11 += a1[p] * b1[p]; t12 += a1[p] * b2[p]; t13 += a1[p] * b3[p];
                }
                Store(c0 + j, t00, alpha, beta); Store(c0 + j + 1, t01, alpha, beta); Store(c0 + j + 2, t02, alpha, beta); Store(c0 + j + 3, t03, alpha, beta);
                Store(c1 + j, t10, alpha, beta); Store(c1 + j + 1, t11, alpha, beta); Store(c1 + j + 2, t12, alpha, beta); Store(c1 + j + 3, t13, alpha, beta);
            }
            for (; j < n; j++)
            {
                float* bj = b + j * ldb;
                Store(c0 + j, Dot(a0, bj, k), alpha, beta);
                Store(c1 + j, Dot(a1, bj, k), alpha, beta);
            }
        }
        if (i < m)
            OneRow(n, k, alpha, a + i * lda, b, ldb, beta, c + i * ldc);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneRow(int n, int k, float alpha, float* a0, float* b, nint ldb, float beta, float* c0)
    {
        int j = 0;
        for (; j + 4 <= n; j += 4)
        {
            float* b0 = b + j * ldb, b1 = b0 + ldb, b2 = b1 + ldb, b3 = b2 + ldb;
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            int p = 0;
            for (; p + 8 <= k; p += 8)
            {
                var x = Vector256.Load(a0 + p);
                s0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b0 + p), s0);
                s1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b1 + p), s1);
                s2 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b2 + p), s2);
                s3 = Vector256.FusedMultiplyAdd(x, Vector256.Load(b3 + p), s3);
            }
            float t0 = Vector256.Sum(s0), t1 = Vector256.Sum(s1), t2 = Vector256.Sum(s2), t3 = Vector256.Sum(s3);
            for (; p < k; p++)
            {
                t0 += a0[p] * b0[p]; t1 += a0[p] * b1[p]; t2 += a0[p] * b2[p]; t3 += a0[p] * b3[p];
            }
            Store(c0 + j, t0, alpha, beta); Store(c0 + j + 1, t1, alpha, beta); Store(c0 + j + 2, t2, alpha, beta); Store(c0 + j + 3, t3, alpha, beta);
        }
        for (; j < n; j++)
            Store(c0 + j, Dot(a0, b + j * ldb, k), alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Dot(float* x, float* y, int k)
    {
        var s = Vector256<float>.Zero;
        int p = 0;
        for (; p + 8 <= k; p += 8)
            s = Vector256.FusedMultiplyAdd(Vector256.Load(x + p), Vector256.Load(y + p), s);
        float t = Vector256.Sum(s);
        for (; p < k; p++)
            t += x[p] * y[p];
        return t;
    }

    /// <summary>beta = 0 overwrites (NaN in C included), as every GEMM path does.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* c, float sum, float alpha, float beta) =>
        *c = beta == 0f ? alpha * sum : MathF.FusedMultiplyAdd(*c, beta, alpha * sum);
}
