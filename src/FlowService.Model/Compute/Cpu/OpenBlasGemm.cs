using System.Runtime.InteropServices;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// <c>cblas_sgemm</c> from OpenBLAS (<c>libopenblas.so.0</c>, Debian's <c>libopenblas0</c>), bound at run
/// time with <see cref="NativeLibrary.TryLoad(string, out nint)"/> so the service runs without it. An
/// optional alternative and cross-check to <see cref="ManagedGemm"/>, same contract.
/// </summary>
/// <remarks>
/// OpenBLAS is switched to one thread when it loads: parallelism is ours (batch shards on the
/// <see cref="Parallel.ShardRunner"/>), and its own threads on top of ours oversubscribe the cores.
/// Cases where BLAS implementations disagree on NaN handling (k = 0, alpha = 0) are done here, so
/// beta = 0 always overwrites C.
/// </remarks>
public static unsafe class OpenBlasGemm
{
    public const string LibraryName = "libopenblas.so.0";

    private const int RowMajor = 101, NoTrans = 111, Trans = 112;

    private static readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> Sgemm;

    static OpenBlasGemm()
    {
        if (!NativeLibrary.TryLoad(LibraryName, typeof(OpenBlasGemm).Assembly, null, out nint library))
        {
            UnavailableReason = $"{LibraryName} could not be loaded (install Debian's libopenblas0).";
            return;
        }
        if (!NativeLibrary.TryGetExport(library, "cblas_sgemm", out nint sgemm))
        {
            UnavailableReason = $"{LibraryName} loaded but exports no cblas_sgemm.";
            return;
        }
        Sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)sgemm;
        if (NativeLibrary.TryGetExport(library, "openblas_set_num_threads", out nint setThreads))
            ((delegate* unmanaged<int, void>)setThreads)(1);
        if (NativeLibrary.TryGetExport(library, "openblas_get_corename", out nint coreName))
            CoreName = Marshal.PtrToStringAnsi(((delegate* unmanaged<nint>)coreName)());
    }

    public static bool IsAvailable => Sgemm != null;

    /// <summary>Why OpenBLAS cannot be used here; null when it can.</summary>
    public static string? UnavailableReason { get; }

    /// <summary>The kernel family OpenBLAS picked for this processor (e.g. "Haswell", "SkylakeX"; OPENBLAS_CORETYPE overrides it).</summary>
    public static string? CoreName { get; }

    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb, float beta, Span<float> c, int ldc)
    {
        if (!IsAvailable)
            throw new InvalidOperationException(UnavailableReason);
        GemmArguments.Validate(transposeA, transposeB, m, n, k, a.Length, lda, b.Length, ldb, c.Length, ldc);
        if (m == 0 || n == 0)
            return;
        fixed (float* pa = a, pb = b, pc = c)
        {
            if (k == 0 || alpha == 0f)
            {
                for (int i = 0; i < m; i++)
                    ScalarGemm.ScaleRow(pc + (nint)i * ldc, n, beta);
                return;
            }
            Sgemm(RowMajor, transposeA ? Trans : NoTrans, transposeB ? Trans : NoTrans, m, n, k,
                alpha, pa, lda, pb, ldb, beta, pc, ldc);
        }
    }
}
