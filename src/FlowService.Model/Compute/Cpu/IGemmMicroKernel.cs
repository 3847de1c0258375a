namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// A register-tile GEMM kernel: C[Rows x cols] = alpha · A[Rows x kc] · B[kc x cols] + beta · C, with
/// the whole tile's sums held in vector registers across the k loop. <see cref="BlockedGemm{TKernel}"/>
/// handles blocking, packing and edges; a struct implementing this lets the JIT specialize it.
/// </summary>
/// <remarks>
/// A is addressed as a[r · rowStride + p · colStride], so both op(A) = A (rowStride = lda, colStride = 1)
/// and op(A) = Aᵀ (rowStride = 1, colStride = lda) are read in place. B rows are Width (or Width / 2)
/// contiguous floats, <c>ldb</c> apart. beta = 0 never reads C.
/// </remarks>
internal unsafe interface IGemmMicroKernel
{
    /// <summary>Rows of the register tile.</summary>
    static abstract int Rows { get; }

    /// <summary>Columns of the wide tile; the narrow tile has half as many.</summary>
    static abstract int Width { get; }

    static abstract bool IsSupported { get; }

    static abstract void Wide(float* a, nint rowStride, nint colStride, float* b, nint ldb, int kc, float* c, nint ldc, float alpha, float beta);

    static abstract void Narrow(float* a, nint rowStride, nint colStride, float* b, nint ldb, int kc, float* c, nint ldc, float alpha, float beta);
}
