using FlowService.Model.Compute.Parallel;

namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    private readonly ShardRunner? _runner;

    /// <summary>A backend whose GEMM is chosen by <see cref="GemmSelection.EnvironmentVariable"/> (managed by default).</summary>
    public CpuBackend()
        : this(GemmSelection.FromEnvironment())
    {
    }

    /// <param name="gemm">The GEMM to use; OpenBLAS falls back to the managed GEMM where it is not installed.</param>
    /// <param name="runner">Where large managed GEMMs spread their rows (default <see cref="ShardRunner.Shared"/>).</param>
    public CpuBackend(GemmImplementation gemm, ShardRunner? runner = null)
    {
        GemmImplementation = GemmSelection.Resolve(gemm);
        _runner = runner;    // the shared pool starts on first use, not when a backend is built
    }

    /// <summary>The GEMM this backend runs (after the OpenBLAS fallback).</summary>
    public GemmImplementation GemmImplementation { get; }

    /// <remarks>
    /// A managed GEMM of at least <see cref="ManagedGemm.ParallelThreshold"/> multiply-adds spreads its
    /// rows over the shard runner; called from inside a batch shard (runner busy) it stays on the
    /// shard's thread, so flow code that shards the batch gets no oversubscription.
    /// </remarks>
    public void Gemm(bool transposeA, bool transposeB, float alpha, Tensor a, Tensor b, float beta, Tensor c)
    {
        int m = c.Rows, n = c.Cols;
        int k = transposeA ? a.Rows : a.Cols;
        int aRows = transposeA ? a.Cols : a.Rows;
        int bRows = transposeB ? b.Cols : b.Rows;
        int bCols = transposeB ? b.Rows : b.Cols;
        if (aRows != m || bRows != k || bCols != n)
            throw new ArgumentException($"GEMM shapes do not agree: op(A) {aRows}x{k}, op(B) {bRows}x{bCols}, C {m}x{n}.");
        // A zero-column tensor still needs a leading dimension of at least 1.
        int lda = Math.Max(1, a.Cols), ldb = Math.Max(1, b.Cols), ldc = Math.Max(1, c.Cols);
        switch (GemmImplementation)
        {
            case GemmImplementation.OpenBlas:
                OpenBlasGemm.Run(transposeA, transposeB, m, n, k, alpha, a.Span(), lda, b.Span(), ldb, beta, c.Span(), ldc);
                break;
            case GemmImplementation.Reference:
                ReferenceGemm.Run(transposeA, transposeB, m, n, k, alpha, a.Span(), lda, b.Span(), ldb, beta, c.Span(), ldc);
                break;
            default:
                ManagedGemm.RunParallel(_runner ?? ShardRunner.Shared, transposeA, transposeB, m, n, k, alpha, a.Span(), lda, b.Span(), ldb, beta, c.Span(), ldc);
                break;
        }
    }
}
