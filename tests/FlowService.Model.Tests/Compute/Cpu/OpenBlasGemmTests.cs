using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>OpenBLAS's cblas_sgemm, where installed, against <see cref="ReferenceGemm"/> under the same contract as the managed GEMM.</summary>
public sealed class OpenBlasGemmTests
{
    private static readonly int[] EdgeSizes = { 1, 7, 8, 9, 31, 32, 33 };

    public static TheoryData<bool, bool> Transposes => new() { { false, false }, { true, false }, { false, true }, { true, true } };

    [OpenBlasTheory, MemberData(nameof(Transposes))]
    public void Matches_the_reference_on_edge_shapes_block_edges_and_flow_shapes(bool transposeA, bool transposeB)
    {
        int index = 0;
        var shapes = EdgeSizes.SelectMany(m => EdgeSizes.Select(n => (m, n, k: EdgeSizes[(m + n) % EdgeSizes.Length])))
            .Concat(new[] { (255, 257, 33), (257, 33, 257), (256, 16, 16), (512, 128, 128), (64, 32, 4096) });
        foreach (var (m, n, k) in shapes)
        {
            index++;
            var check = new GemmCheck(transposeA, transposeB, m, n, k, index % 2 == 0 ? 1f : -0.75f, index % 3 == 0 ? 0f : 0.5f, seed: index, pad: index % 2);
            var c = check.NewC();
            OpenBlasGemm.Run(transposeA, transposeB, m, n, k, check.Alpha, check.A, check.Lda, check.B, check.Ldb, check.Beta, c, check.Ldc);
            check.AssertMatchesReference(c, "OpenBLAS");
        }
    }

    [OpenBlasFact]
    public void Beta_zero_overwrites_nan_in_c()
    {
        var check = new GemmCheck(false, false, 17, 40, 9, 1f, 0f, seed: 5);
        var c = Enumerable.Repeat(float.NaN, 17 * 40).ToArray();
        OpenBlasGemm.Run(false, false, 17, 40, 9, 1f, check.A, check.Lda, check.B, check.Ldb, 0f, c, 40);
        check.AssertMatchesReference(c, "OpenBLAS");

        var empty = Enumerable.Repeat(float.NaN, 6).ToArray();
        OpenBlasGemm.Run(false, false, 2, 3, 0, 1f, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 3, 0f, empty, 3);
        Assert.Equal(new float[6], empty);
    }

    [OpenBlasFact]
    public void Agrees_with_the_managed_gemm_on_the_weight_gradient_shape()
    {
        // dW = dYᵀ·X for a 4096-row batch: the deepest reduction a flow runs.
        var check = new GemmCheck(true, false, 128, 64, 4096, 1f, 1f, seed: 11);
        var viaBlas = check.NewC();
        var managed = check.NewC();
        OpenBlasGemm.Run(true, false, 128, 64, 4096, 1f, check.A, check.Lda, check.B, check.Ldb, 1f, viaBlas, check.Ldc);
        ManagedGemm.Run(true, false, 128, 64, 4096, 1f, check.A, check.Lda, check.B, check.Ldb, 1f, managed, check.Ldc);
        check.AssertMatchesReference(viaBlas, "OpenBLAS");
        check.AssertMatchesReference(managed, "managed");
    }

    [Fact]
    public void Availability_is_reported_with_a_reason_when_missing()
    {
        Assert.Equal(OpenBlasGemm.IsAvailable, OpenBlasGemm.UnavailableReason is null);
        if (!OpenBlasGemm.IsAvailable)
            Assert.Throws<InvalidOperationException>(() => OpenBlasGemm.Run(false, false, 1, 1, 1, 1f, new float[1], 1, new float[1], 1, 0f, new float[1], 1));
    }
}
