using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Parallel;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>The few-row A · Bᵀ path (<see cref="DotProductGemm"/>) against <see cref="ReferenceGemm"/>, and its place in <see cref="ManagedGemm"/>.</summary>
public sealed class DotProductGemmTests
{
    [Fact]
    public unsafe void Every_depth_0_to_257_matches_the_reference_for_one_and_two_rows()
    {
        // k crosses the 8-float vector step and its scalar tail; n = 5 crosses the 4-column group.
        for (int k = 0; k <= 257; k++)
            foreach (int m in new[] { 1, 2 })
            {
                var check = new GemmCheck(false, true, m, 5, k, k % 3 == 0 ? 1f : -0.75f, k % 2 == 0 ? 0f : 0.5f, seed: k * 3 + m);
                var c = check.NewC();
                fixed (float* a = check.A, b = check.B, pc = c)
                    DotProductGemm.Run(m, 5, k, check.Alpha, a, Math.Max(1, check.Lda), b, Math.Max(1, check.Ldb), check.Beta, pc, check.Ldc);
                check.AssertMatchesReference(c, $"dot product k={k}");
            }
    }

    [Theory]
    [InlineData(3, 1, 17)]
    [InlineData(7, 9, 64)]
    [InlineData(15, 130, 129)]
    [InlineData(16, 184, 128)]
    public unsafe void Row_and_column_tails_with_padded_leading_dimensions_match_the_reference(int m, int n, int k)
    {
        var check = new GemmCheck(false, true, m, n, k, 1.25f, -1f, seed: m * n + k, pad: 3);
        var c = check.NewC();
        fixed (float* a = check.A, b = check.B, pc = c)
            DotProductGemm.Run(m, n, k, check.Alpha, a, check.Lda, b, check.Ldb, check.Beta, pc, check.Ldc);
        check.AssertMatchesReference(c, "dot product");
    }

    [Fact]
    public unsafe void Beta_zero_overwrites_nan()
    {
        var check = new GemmCheck(false, true, 3, 6, 20, 1f, 0f, seed: 9);
        var c = Enumerable.Repeat(float.NaN, 18).ToArray();
        fixed (float* a = check.A, b = check.B, pc = c)
            DotProductGemm.Run(3, 6, 20, 1f, a, check.Lda, b, check.Ldb, 0f, pc, 6);
        check.AssertMatchesReference(c, "dot product over NaN");
    }

    [Fact]
    public void A_gemm_of_more_rows_split_into_few_row_shards_is_bit_identical_to_one_thread()
    {
        // 24 rows x 2^15 depth crosses the parallel threshold and splits into shards of 16 and 8 rows:
        // the path must be chosen by the whole GEMM's rows (24: blocked), or the shards would sum differently.
        var check = new GemmCheck(false, true, 24, 8, 1 << 15, 1f, 0f, seed: 4);
        var single = check.NewC();
        ManagedGemm.Run(false, true, 24, 8, 1 << 15, 1f, check.A, check.Lda, check.B, check.Ldb, 0f, single, check.Ldc);
        using var runner = new ShardRunner(2);
        var parallel = check.NewC();
        ManagedGemm.RunParallel(runner, false, true, 24, 8, 1 << 15, 1f, check.A, check.Lda, check.B, check.Ldb, 0f, parallel, check.Ldc);
        Assert.Equal(single, parallel);
        check.AssertMatchesReference(single, "managed");
    }
}
