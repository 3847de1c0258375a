namespace FlowService.Model.Compute.Cpu;

/// <summary>Checks a row-major GEMM's dimensions and leading dimensions against the spans it will read and write.</summary>
internal static class GemmArguments
{
    public static void Validate(bool transposeA, bool transposeB, int m, int n, int k,
        int aLength, int lda, int bLength, int ldb, int cLength, int ldc)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        // Stored shapes: A is m x k (k x m when transposed), B is k x n (n x k when transposed).
        Check("A", transposeA ? k : m, transposeA ? m : k, aLength, lda);
        Check("B", transposeB ? n : k, transposeB ? k : n, bLength, ldb);
        Check("C", m, n, cLength, ldc);
    }

    private static void Check(string name, int rows, int cols, int length, int leading)
    {
        if (leading < Math.Max(1, cols))
            throw new ArgumentException($"GEMM: {name} has {cols} columns but a leading dimension of {leading}.");
        long needed = rows == 0 || cols == 0 ? 0 : (long)(rows - 1) * leading + cols;
        if (length < needed)
            throw new ArgumentException($"GEMM: {name} is {rows}x{cols} with leading dimension {leading}, which needs {needed} floats; it has {length}.");
    }
}
