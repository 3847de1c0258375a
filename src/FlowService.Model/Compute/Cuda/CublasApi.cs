namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// cuBLAS (libcublas, with libcublasLt beside it): the single-precision GEMM. cuBLAS is
/// column-major; the backend's tensors are row-major, so a row-major C = op(A)·op(B) is computed as
/// the column-major Cᵀ = op(B)ᵀ·op(A)ᵀ, i.e. the same call with A and B swapped.
/// </summary>
internal sealed unsafe class CublasApi
{
    private const int OpN = 0, OpT = 1;
    private static readonly string[] Candidates =
    [
        "libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so",
        "cublas64_13.dll", "cublas64_12.dll", "cublas64_11.dll",
    ];
    private static readonly Lazy<(CublasApi? Api, string Failure)> Shared = new(Load);

    private readonly string _library;
    private readonly delegate* unmanaged<IntPtr*, int> _create;
    private readonly delegate* unmanaged<IntPtr, IntPtr, int> _setStream;
    private readonly delegate* unmanaged<IntPtr, int, int> _setMathMode;
    private readonly delegate* unmanaged<IntPtr, int, int, int, int, int, float*, ulong, int, ulong, int, float*, ulong, int, int> _sgemm;

    private CublasApi(IntPtr lib, string name)
    {
        _library = name;
        IntPtr F(string symbol) => NativeLibraryProbe.Export(lib, name, symbol);
        _create = (delegate* unmanaged<IntPtr*, int>)F("cublasCreate_v2");
        _setStream = (delegate* unmanaged<IntPtr, IntPtr, int>)F("cublasSetStream_v2");
        _setMathMode = (delegate* unmanaged<IntPtr, int, int>)F("cublasSetMathMode");
        _sgemm = (delegate* unmanaged<IntPtr, int, int, int, int, int, float*, ulong, int, ulong, int, float*, ulong, int, int>)F("cublasSgemm_v2");
    }

    public string LibraryName => _library;

    public static CublasApi? TryGet(out string failure)
    {
        (CublasApi? api, string reason) = Shared.Value;
        failure = reason;
        return api;
    }

    private static (CublasApi?, string) Load()
    {
        if (!NativeLibraryProbe.TryLoad(Candidates, out IntPtr lib, out string name, out string failure))
            return (null, $"cuBLAS is missing ({failure}); install the CUDA cuBLAS libraries (libcublas and libcublasLt)");
        try
        {
            return (new CublasApi(lib, name), "");
        }
        catch (CudaException e)
        {
            return (null, e.Message);
        }
    }

    /// <summary>A handle bound to <paramref name="stream"/>, in plain FP32 math (no TF32), so results match the CPU's to float rounding.</summary>
    public IntPtr CreateHandle(IntPtr stream)
    {
        IntPtr handle;
        Check(_create(&handle), "cublasCreate_v2");
        Check(_setStream(handle, stream), "cublasSetStream_v2");
        Check(_setMathMode(handle, 0 /* CUBLAS_DEFAULT_MATH */), "cublasSetMathMode");
        return handle;
    }

    /// <summary>Row-major C (m x n) = alpha·op(A)·op(B) + beta·C with leading dimensions lda, ldb, ldc.</summary>
    public void SgemmRowMajor(IntPtr handle, bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ulong a, int lda, ulong b, int ldb, float beta, ulong c, int ldc)
    {
        // Column-major view: Cᵀ (n x m) = op(B)ᵀ (n x k) · op(A)ᵀ (k x m). A row-major X with ld
        // columns is the column-major Xᵀ with the same ld, so the transpose flags carry over as they are.
        Check(_sgemm(handle, transposeB ? OpT : OpN, transposeA ? OpT : OpN, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc),
            $"cublasSgemm_v2(m={m}, n={n}, k={k}, transA={transposeA}, transB={transposeB})");
    }

    private void Check(int status, string call)
    {
        if (status != 0)
            throw new CudaException($"{call} failed: {StatusName(status)} ({status}) [{_library}]");
    }

    private static string StatusName(int status) => status switch
    {
        1 => "CUBLAS_STATUS_NOT_INITIALIZED",
        3 => "CUBLAS_STATUS_ALLOC_FAILED",
        7 => "CUBLAS_STATUS_INVALID_VALUE",
        8 => "CUBLAS_STATUS_ARCH_MISMATCH",
        11 => "CUBLAS_STATUS_MAPPING_ERROR",
        13 => "CUBLAS_STATUS_EXECUTION_FAILED",
        14 => "CUBLAS_STATUS_INTERNAL_ERROR",
        15 => "CUBLAS_STATUS_NOT_SUPPORTED",
        16 => "CUBLAS_STATUS_LICENSE_ERROR",
        _ => "CUBLAS_STATUS_UNKNOWN",
    };
}
