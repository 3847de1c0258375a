using System.Runtime.CompilerServices;
namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The portable GEMM: plain loops (row of C += a · row of B), no intrinsics. Used where neither AVX2
/// nor AVX-512 exists; also the shape of the math that the SIMD kernels vectorize.
/// </summary>
internal static unsafe class ScalarGemm
{
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc)
    {
        nint rowStride = transposeA ? 1 : lda, colStride = transposeA ? lda : 1;
        for (int i = 0; i < m; i++)
        {
            float* cRow = c + i * ldc;
            ScaleRow(cRow, n, beta);
            float* aRow = a + i * rowStride;
            if (!transposeB)
            {
                for (int p = 0; p < k; p++)
                {
                    float av = alpha * aRow[p * colStride];
                    float* bRow = b + p * ldb;
                    for (int j = 0; j < n; j++)
                        cRow[j] += av * bRow[j];
                }
            }
            else
            {
                // op(B)[p, j] = B[j, p]: a dot product along a stored row of B.
                for (int j = 0; j < n; j++)
                {
                    float* bRow = b + j * ldb;
                    float sum = 0f;
                    for (int p = 0; p < k; p++)
                        sum += aRow[p * colStride] * bRow[p];
                    cRow[j] += alpha * sum;
                }
            }
        }
    }

    /// <summary>row = beta · row; beta = 0 writes zeros whatever the row held (NaN included).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ScaleRow(float* row, int n, float beta)
    {
        if (beta == 0f)
            new Span<float>(row, n).Clear();
        else if (beta != 1f)
            for (int j = 0; j < n; j++)
                row[j] *= beta;
    }
}
