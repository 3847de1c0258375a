using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// AVX-512 register tiles: 8 x 32 (16 zmm accumulators, two B vectors, one broadcast: 19 of the 32
/// registers) and 8 x 16. Per k step the wide tile does 16 FMAs for 2 loads and 8 broadcasts, which
/// keeps both FMA pipes of a Zen 4/5 or Ice Lake core busy.
/// </summary>
internal readonly unsafe struct Avx512MicroKernel : IGemmMicroKernel
{
    public static int Rows => 8;

    public static int Width => 32;

    public static bool IsSupported => Avx512F.IsSupported;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Wide(float* a, nint rowStride, nint colStride, float* b, nint ldb, int kc, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        nint rs2 = rowStride * 2, rs3 = rowStride * 3;
        float* a0 = a;
        float* a4 = a + rowStride * 4;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            var x = Vector512.Create(a0[0]);
            c00 = Avx512F.FusedMultiplyAdd(x, b0, c00);
            c01 = Avx512F.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a0[rowStride]);
            c10 = Avx512F.FusedMultiplyAdd(x, b0, c10);
            c11 = Avx512F.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a0[rs2]);
            c20 = Avx512F.FusedMultiplyAdd(x, b0, c20);
            c21 = Avx512F.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a0[rs3]);
            c30 = Avx512F.FusedMultiplyAdd(x, b0, c30);
            c31 = Avx512F.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a4[0]);
            c40 = Avx512F.FusedMultiplyAdd(x, b0, c40);
            c41 = Avx512F.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a4[rowStride]);
            c50 = Avx512F.FusedMultiplyAdd(x, b0, c50);
            c51 = Avx512F.FusedMultiplyAdd(x, b1, c51);
            x = Vector512.Create(a4[rs2]);
            c60 = Avx512F.FusedMultiplyAdd(x, b0, c60);
            c61 = Avx512F.FusedMultiplyAdd(x, b1, c61);
            x = Vector512.Create(a4[rs3]);
            c70 = Avx512F.FusedMultiplyAdd(x, b0, c70);
            c71 = Avx512F.FusedMultiplyAdd(x, b1, c71);
            a0 += colStride;
            a4 += colStride;
            b += ldb;
        }
        Store2(c, c00, c01, alpha, beta);
        Store2(c + ldc, c10, c11, alpha, beta);
        Store2(c + 2 * ldc, c20, c21, alpha, beta);
        Store2(c + 3 * ldc, c30, c31, alpha, beta);
        Store2(c + 4 * ldc, c40, c41, alpha, beta);
        Store2(c + 5 * ldc, c50, c51, alpha, beta);
        Store2(c + 6 * ldc, c60, c61, alpha, beta);
        Store2(c + 7 * ldc, c70, c71, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Narrow(float* a, nint rowStride, nint colStride, float* b, nint ldb, int kc, float* c, nint ldc, float alpha, float beta)
    {
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> c4 = default, c5 = default, c6 = default, c7 = default;
        nint rs2 = rowStride * 2, rs3 = rowStride * 3;
        float* a0 = a;
        float* a4 = a + rowStride * 4;
        for (int p = 0; p < kc; p++)
        {
            var b0 = Vector512.Load(b);
            c0 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[0]), b0, c0);
            c1 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[rowStride]), b0, c1);
            c2 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[rs2]), b0, c2);
            c3 = Avx512F.FusedMultiplyAdd(Vector512.Create(a0[rs3]), b0, c3);
            c4 = Avx512F.FusedMultiplyAdd(Vector512.Create(a4[0]), b0, c4);
            c5 = Avx512F.FusedMultiplyAdd(Vector512.Create(a4[rowStride]), b0, c5);
            c6 = Avx512F.FusedMultiplyAdd(Vector512.Create(a4[rs2]), b0, c6);
            c7 = Avx512F.FusedMultiplyAdd(Vector512.Create(a4[rs3]), b0, c7);
            a0 += colStride;
            a4 += colStride;
            b += ldb;
        }
        Store1(c, c0, alpha, beta);
        Store1(c + ldc, c1, alpha, beta);
        Store1(c + 2 * ldc, c2, alpha, beta);
        Store1(c + 3 * ldc, c3, alpha, beta);
        Store1(c + 4 * ldc, c4, alpha, beta);
        Store1(c + 5 * ldc, c5, alpha, beta);
        Store1(c + 6 * ldc, c6, alpha, beta);
        Store1(c + 7 * ldc, c7, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Store2(float* c, Vector512<float> s0, Vector512<float> s1, float alpha, float beta)
    {
        Store1(c, s0, alpha, beta);
        Store1(c + 16, s1, alpha, beta);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Store1(float* c, Vector512<float> sum, float alpha, float beta)
    {
        var scaled = alpha == 1f ? sum : sum * Vector512.Create(alpha);
        if (beta != 0f)
            scaled = Avx512F.FusedMultiplyAdd(Vector512.Load(c), Vector512.Create(beta), scaled);
        scaled.Store(c);
    }
}
