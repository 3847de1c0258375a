using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// AVX2 register tiles for machines without AVX-512: 6 x 16 (12 ymm accumulators, two B vectors and
/// one broadcast: 15 of the 16 registers) and 6 x 8.
/// </summary>
internal readonly unsafe struct Avx2MicroKernel : IGemmMicroKernel
{
    public static int Rows => 6;

    public static int Width => 16;

    public static bool IsSupported => Avx2.IsSupported && Fma.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Wide(float* a, nint rowStride, nint colStride, float* b, nint ldb, int kc, float* c, nint ldc, float alpha, float beta)
    {
        // 12 accumulators + 2 B vectors + 1 broadcast fill 15 of the 16 ymm registers, so alpha and beta
        // (which arrive in xmm0/xmm1) must not stay live across the loop: parked in memory the JIT
        // cannot enregister, they free their registers. Left as arguments, the JIT spilled an
        // accumulator instead, a store-load on the loop-carried chain that cost ~2x.
        float* scales = stackalloc float[2];
        scales[0] = alpha;
        scales[1] = beta;
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        nint rs2 = rowStride * 2;
        float* a0 = a;
        float* a3 = a + rowStride * 3;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            var b1 = Vector256.Load(b + 8);
            var x = Vector256.Create(a0[0]);
            c00 = Fma.MultiplyAdd(x, b0, c00);
            c01 = Fma.MultiplyAdd(x, b1, c01);
            x = Vector256.Create(a0[rowStride]);
            c10 = Fma.MultiplyAdd(x, b0, c10);
            c11 = Fma.MultiplyAdd(x, b1, c11);
            x = Vector256.Create(a0[rs2]);
            c20 = Fma.MultiplyAdd(x, b0, c20);
            c21 = Fma.MultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[0]);
            c30 = Fma.MultiplyAdd(x, b0, c30);
            c31 = Fma.MultiplyAdd(x, b1, c31);
            x = Vector256.Create(a3[rowStride]);
            c40 = Fma.MultiplyAdd(x, b0, c40);
            c41 = Fma.MultiplyAdd(x, b1, c41);
            x = Vector256.Create(a3[rs2]);
            c50 = Fma.MultiplyAdd(x, b0, c50);
            c51 = Fma.MultiplyAdd(x, b1, c51);
            a0 += colStride;
            a3 += colStride;
            b += ldb;
        }
        alpha = scales[0];
        beta = scales[1];
        Store2(c, c00, c01, alpha, beta);
        Store2(c + ldc, c10, c11, alpha, beta);
        Store2(c + 2 * ldc, c20, c21, alpha, beta);
        Store2(c + 3 * ldc, c30, c31, alpha, beta);
        Store2(c + 4 * ldc, c40, c41, alpha, beta);
        Store2(c + 5 * ldc, c50, c51, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Narrow(float* a, nint rowStride, nint colStride, float* b, nint ldb, int kc, float* c, nint ldc, float alpha, float beta)
    {
        Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default, c4 = default, c5 = default;
        nint rs2 = rowStride * 2;
        float* a0 = a;
        float* a3 = a + rowStride * 3;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector256.Load(b);
            c0 = Fma.MultiplyAdd(Vector256.Create(a0[0]), b0, c0);
            c1 = Fma.MultiplyAdd(Vector256.Create(a0[rowStride]), b0, c1);
            c2 = Fma.MultiplyAdd(Vector256.Create(a0[rs2]), b0, c2);
            c3 = Fma.MultiplyAdd(Vector256.Create(a3[0]), b0, c3);
            c4 = Fma.MultiplyAdd(Vector256.Create(a3[rowStride]), b0, c4);
            c5 = Fma.MultiplyAdd(Vector256.Create(a3[rs2]), b0, c5);
            a0 += colStride;
            a3 += colStride;
            b += ldb;
        }
        Store1(c, c0, alpha, beta);
        Store1(c + ldc, c1, alpha, beta);
        Store1(c + 2 * ldc, c2, alpha, beta);
        Store1(c + 3 * ldc, c3, alpha, beta);
        Store1(c + 4 * ldc, c4, alpha, beta);
        Store1(c + 5 * ldc, c5, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Store2(float* c, Vector256<float> s0, Vector256<float> s1, float alpha, float beta)
    {
        Store1(c, s0, alpha, beta);
        Store1(c + 8, s1, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Store1(float* c, Vector256<float> sum, float alpha, float beta)
    {
        var scaled = alpha == 1f ? sum : sum * Vector256.Create(alpha);
        if (beta != 0f)
            scaled = Fma.MultiplyAdd(Vector256.Load(c), Vector256.Create(beta), scaled);
        scaled.Store(c);
    }
}
