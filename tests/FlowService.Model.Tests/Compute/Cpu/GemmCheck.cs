using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>Random GEMM problems and the comparison of a fast GEMM's result with <see cref="ReferenceGemm"/>.</summary>
internal sealed class GemmCheck
{
    /// <summary>
    /// The stated tolerance: |C - C_ref| ≤ (k + 2) · 2⁻²³ · (|alpha| · Σ_p |op(A)_ip · op(B)_pj| + |beta · C0_ij|),
    /// the float32 rounding bound of a k-term dot product (any summation order) plus the final scaling.
    /// An indexing or tail bug errs by the size of the terms themselves, thousands of times more.
    /// </summary>
    public const double UnitRoundoff = 1.0 / (1 << 23);

    public GemmCheck(bool transposeA, bool transposeB, int m, int n, int k, float alpha, float beta, int seed, int pad = 0)
    {
        TransposeA = transposeA;
        TransposeB = transposeB;
        M = m;
        N = n;
        K = k;
        Alpha = alpha;
        Beta = beta;
        var random = new Random(seed);
        int aRows = transposeA ? k : m, aCols = transposeA ? m : k;
        int bRows = transposeB ? n : k, bCols = transposeB ? k : n;
        Lda = Math.Max(1, aCols + pad);
        Ldb = Math.Max(1, bCols + pad);
        Ldc = Math.Max(1, n + pad);
        A = Fill(random, Math.Max(0, (aRows - 1) * Lda + aCols));
        B = Fill(random, Math.Max(0, (bRows - 1) * Ldb + bCols));
        C0 = Fill(random, Math.Max(0, (m - 1) * Ldc + n));
    }

    public bool TransposeA { get; }
    public bool TransposeB { get; }
    public int M { get; }
    public int N { get; }
    public int K { get; }
    public float Alpha { get; }
    public float Beta { get; }
    public int Lda { get; }
    public int Ldb { get; }
    public int Ldc { get; }
    public float[] A { get; }
    public float[] B { get; }

    /// <summary>C before the call; the padding between rows must come back unchanged.</summary>
    public float[] C0 { get; }

    public float[] NewC() => (float[])C0.Clone();

    public override string ToString() =>
        $"{(TransposeA ? "Aᵀ" : "A")}·{(TransposeB ? "Bᵀ" : "B")} m={M} n={N} k={K} alpha={Alpha} beta={Beta} ld+{Ldc - N}";

    /// <summary>Asserts <paramref name="c"/> equals the reference within the stated tolerance, padding untouched.</summary>
    public void AssertMatchesReference(float[] c, string what)
    {
        var expected = NewC();
        ReferenceGemm.Run(TransposeA, TransposeB, M, N, K, Alpha, A, Lda, B, Ldb, Beta, expected, Ldc);
        for (int i = 0; i < M; i++)
        {
            for (int j = 0; j < N; j++)
            {
                double magnitude = 0;
                for (int p = 0; p < K; p++)
                    magnitude += Math.Abs((double)OpA(i, p) * OpB(p, j));
                double scale = Math.Abs(Alpha) * magnitude + (Beta == 0f ? 0 : Math.Abs((double)Beta * C0[i * Ldc + j]));
                double tolerance = (K + 2) * UnitRoundoff * scale + 1e-30;
                float got = c[i * Ldc + j], want = expected[i * Ldc + j];
                if (!(Math.Abs((double)got - want) <= tolerance))
                    Assert.Fail($"{what}, {this}: C[{i},{j}] = {got}, reference {want}, tolerance {tolerance:g3}");
            }
            for (int j = N; j < Ldc && i * Ldc + j < c.Length; j++)
                if (BitConverter.SingleToInt32Bits(c[i * Ldc + j]) != BitConverter.SingleToInt32Bits(C0[i * Ldc + j]))
                    Assert.Fail($"{what}, {this}: padding C[{i},{j}] was written");
        }
    }

    /// <summary>
    /// Checks a backend result: <paramref name="c"/> = alpha · op(a) · op(b) + beta · <paramref name="c0"/>
    /// (null when beta = 0), using this check's shape and scalars with the tensors' own values.
    /// </summary>
    public void AssertSame(Tensor a, Tensor b, Tensor c, float[]? c0)
    {
        var check = new GemmCheck(this, CpuTensorExtensions.Span(a).ToArray(),
            CpuTensorExtensions.Span(b).ToArray(), c0 ?? new float[M * N]);
        check.AssertMatchesReference(CpuTensorExtensions.Span(c).ToArray(), "backend");
    }

    private GemmCheck(GemmCheck shape, float[] a, float[] b, float[] c0)
    {
        (TransposeA, TransposeB, M, N, K, Alpha, Beta) = (shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, shape.Alpha, shape.Beta);
        Lda = Math.Max(1, TransposeA ? M : K);
        Ldb = Math.Max(1, TransposeB ? K : N);
        Ldc = Math.Max(1, N);
        (A, B, C0) = (a, b, c0);
    }

    private float OpA(int i, int p) => TransposeA ? A[p * Lda + i] : A[i * Lda + p];

    private float OpB(int p, int j) => TransposeB ? B[j * Ldb + p] : B[p * Ldb + j];

    private static float[] Fill(Random random, int length)
    {
        var data = new float[length];
        for (int i = 0; i < length; i++)
            data[i] = (float)(random.NextDouble() * 2 - 1);
        return data;
    }
}
