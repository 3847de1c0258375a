namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
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
        ReferenceGemm.Run(transposeA, transposeB, m, n, k, alpha, a.Span(), a.Cols, b.Span(), b.Cols, beta, c.Span(), c.Cols);
    }
}
