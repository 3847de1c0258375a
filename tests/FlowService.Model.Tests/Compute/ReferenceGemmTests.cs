using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute;

public sealed class ReferenceGemmTests
{
    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public void Multiplies_a_2x3_by_a_3x2_in_every_transpose_combination(bool transposeA, bool transposeB)
    {
        float[] a = { 1, 2, 3, 4, 5, 6 };       // 2x3
        float[] b = { 7, 8, 9, 10, 11, 12 };    // 3x2
        float[] aStored = transposeA ? Transpose(a, 2, 3) : a;
        float[] bStored = transposeB ? Transpose(b, 3, 2) : b;
        float[] c = { 1, 1, 1, 1 };

        ReferenceGemm.Run(transposeA, transposeB, 2, 2, 3, 2f, aStored, transposeA ? 2 : 3, bStored, transposeB ? 3 : 2, 0.5f, c, 2);

        // A·B = [[58, 64], [139, 154]]; C = 2·A·B + 0.5·1
        Assert.Equal(new float[] { 116.5f, 128.5f, 278.5f, 308.5f }, c);
    }

    private static float[] Transpose(float[] m, int rows, int cols)
    {
        var t = new float[m.Length];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++)
                t[j * rows + i] = m[i * cols + j];
        return t;
    }
}
