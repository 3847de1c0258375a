using FlowService.Model.Compute.Parallel;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The managed SIMD GEMM, the CPU backend's primary path: C = alpha · op(A) · op(B) + beta · C,
/// row-major, op(X) = X or Xᵀ, beta = 0 overwrites C (NaN included).
/// </summary>
/// <remarks>
/// AVX-512 8 x 32 register tiles where available, AVX2 6 x 16 tiles otherwise, scalar loops as the
/// last resort (see <see cref="BlockedGemm{TKernel}"/>). Each output element is summed in the same
/// order whichever way the rows are split over threads, so results do not depend on the thread count.
/// </remarks>
public static unsafe class ManagedGemm
{
    /// <summary>Below this many multiply-adds a GEMM is not worth waking another core for.</summary>
    public const long ParallelThreshold = 1L << 19;

    /// <summary>The widest path this processor runs.</summary>
    public static ManagedGemmPath BestPath { get; } =
        Avx512MicroKernel.IsSupported ? ManagedGemmPath.Vector512
        : Avx2MicroKernel.IsSupported ? ManagedGemmPath.Vector256
        : ManagedGemmPath.Scalar;

    public static bool IsSupported(ManagedGemmPath path) => path switch
    {
        ManagedGemmPath.Best or ManagedGemmPath.Scalar => true,
        ManagedGemmPath.Vector512 => Avx512MicroKernel.IsSupported,
        ManagedGemmPath.Vector256 => Avx2MicroKernel.IsSupported,
        _ => false,
    };

    /// <summary>
    /// True when <paramref name="path"/> (Best: <see cref="BestPath"/>) is a vector path this processor runs and
    /// <paramref name="rows"/> consecutive rows fill at least one of its register tiles (8 on AVX-512, 6 on AVX2): what the
    /// kernels that run those tiles outside a GEMM (the direct convolutions) need.
    /// </summary>
    internal static bool FillsRegisterTile(int rows, ManagedGemmPath path = ManagedGemmPath.Best)
    {
        path = path == ManagedGemmPath.Best ? BestPath : path;
        return path switch
        {
            ManagedGemmPath.Vector512 => Avx512MicroKernel.IsSupported && rows >= Avx512MicroKernel.Rows,
            ManagedGemmPath.Vector256 => Avx2MicroKernel.IsSupported && rows >= Avx2MicroKernel.Rows,
            _ => false,
        };
    }

    /// <summary>Single-threaded GEMM on the calling thread.</summary>
    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        ManagedGemmPath path = ManagedGemmPath.Best)
    {
        GemmArguments.Validate(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        path = Resolve(path);
        fixed (float* pa = a, pb = b, pc = c)
            RunUnchecked(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, path);
    }

    /// <summary>
    /// The same GEMM with the rows (or, for few rows, the columns) of C split over <paramref name="runner"/>'s
    /// threads when it has at least <see cref="ParallelThreshold"/> multiply-adds. Inside a shard of
    /// the same runner this runs inline. Bit-identical to <see cref="Run"/>.
    /// </summary>
    public static void RunParallel(ShardRunner runner, bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc,
        ManagedGemmPath path = ManagedGemmPath.Best)
    {
        ArgumentNullException.ThrowIfNull(runner);
        GemmArguments.Validate(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        path = Resolve(path);
        int shards = runner.ShardsFor((long)m * n * k, ParallelThreshold);
        bool splitRows = m >= 32 * shards || m >= n;
        shards = Math.Min(shards, splitRows ? (m + 7) / 8 : (n + 31) / 32);
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (shards <= 1)
            {
                RunUnchecked(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, path);
                return;
            }
            runner.Run(shards, new GemmShard(transposeA, transposeB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc, path, shards, splitRows));
        }
    }

    /// <summary>
    /// <see cref="Run"/> where op(B) = B's rows may overlap (ldb &lt; n): <see cref="DirectConvolution3x3"/> reads the
    /// 3·C values under each pixel's kernel row straight from a padded image, rows C apart. B is only read, so the
    /// overlap is harmless; the caller guarantees every address it implies lies inside its buffers.
    /// </summary>
    internal static void RunOverlappingB(int m, int n, int k, float alpha, float* a, nint lda, bool transposeA,
        float* b, nint ldb, float beta, float* c, nint ldc, ManagedGemmPath path) =>
        RunUnchecked(transposeA, false, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, Resolve(path));

    private static ManagedGemmPath Resolve(ManagedGemmPath path)
    {
        if (path == ManagedGemmPath.Best)
            return BestPath;
        if (!IsSupported(path))
            throw new PlatformNotSupportedException($"This processor cannot run the {path} GEMM path.");
        return path;
    }

    private static void RunUnchecked(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, ManagedGemmPath path)
    {
        if (m == 0 || n == 0)
            return;
        if (k == 0 || alpha == 0f)
        {
            for (int i = 0; i < m; i++)
                ScalarGemm.ScaleRow(c + i * ldc, n, beta);
            return;
        }
        switch (path)
        {
            case ManagedGemmPath.Vector512:
                BlockedGemm<Avx512MicroKernel>.Run(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            case ManagedGemmPath.Vector256:
                BlockedGemm<Avx2MicroKernel>.Run(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
            default:
                ScalarGemm.Run(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
                break;
        }
    }

    /// <summary>One shard: a run of whole 8-row tiles (or 32-column strips) of C.</summary>
    private readonly struct GemmShard(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc, ManagedGemmPath path, int shards, bool splitRows) : IShardBody
    {
        public void Run(int shard)
        {
            if (splitRows)
            {
                var rows = ShardRange.Of(m, shards, shard, alignment: 8);
                // Row i of op(A) starts at a + i·lda, or at column i (a + i) when A is stored transposed.
                float* aStart = transposeA ? a + rows.Start : a + rows.Start * lda;
                RunUnchecked(transposeA, transposeB, rows.Count, n, k, alpha, aStart, lda, b, ldb, beta, c + rows.Start * ldc, ldc, path);
            }
            else
            {
                var cols = ShardRange.Of(n, shards, shard, alignment: 32);
                float* bStart = transposeB ? b + cols.Start * ldb : b + cols.Start;
                RunUnchecked(transposeA, transposeB, m, cols.Count, k, alpha, a, lda, bStart, ldb, beta, c + cols.Start, ldc, path);
            }
        }
    }
}
