namespace FlowService.Model.Compute.Cuda;

public sealed unsafe partial class CudaBackend
{
    public void Gemm(bool transposeA, bool transposeB, float alpha, Tensor a, Tensor b, float beta, Tensor c)
    {
        int m = c.Rows, n = c.Cols;
        int k = transposeA ? a.Rows : a.Cols;
        int aRows = transposeA ? a.Cols : a.Rows;
        int bRows = transposeB ? b.Cols : b.Rows;
        int bCols = transposeB ? b.Rows : b.Cols;
        if (aRows != m || bRows != k || bCols != n)
            throw new ArgumentException($"GEMM shapes do not agree: op(A) {aRows}x{k}, op(B) {bRows}x{bCols}, C {m}x{n}.");
        if (m == 0 || n == 0)
            return;
        if (k == 0)
        {
            // cuBLAS reads A and B with a leading dimension of at least 1; an empty product is just C = beta·C.
            if (beta == 0f)
                Fill(c, 0f);
            else
                ScaleInPlace(c, beta);
            return;
        }
        MakeCurrent();
        _cublas.SgemmRowMajor(_cublasHandle, transposeA, transposeB, m, n, k, alpha,
            Pointer(a), Math.Max(1, a.Cols), Pointer(b), Math.Max(1, b.Cols), beta, Pointer(c), Math.Max(1, c.Cols));
    }

    private void ScaleInPlace(Tensor x, float factor)
    {
        CudaKernel kernel = Kernel(CoreKernels.Source, "scale_in_place");
        ulong p = Pointer(x);
        long n = x.Length;
        void** args = stackalloc void*[] { &p, &factor, &n };
        Launch(kernel, n, args);
    }
}
