using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Parallel;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>Every managed GEMM path against <see cref="ReferenceGemm"/>, within <see cref="GemmCheck"/>'s stated tolerance.</summary>
public sealed class ManagedGemmTests
{
    private static readonly int[] EdgeSizes = { 1, 7, 8, 9, 31, 32, 33 };

    private static readonly (float Alpha, float Beta)[] Scalings = { (1f, 0f), (0.5f, 0f), (1f, 1f), (-1.5f, 0.75f), (2f, -1f) };

    /// <summary>Edges of the register tiles (8 x 32, 6 x 16), blocks (256) and the flow shapes: batch x width x width, dW's deep k.</summary>
    private static readonly (int M, int N, int K)[] LargeShapes =
    {
        (255, 257, 33), (257, 33, 257), (33, 255, 255), (1, 257, 257), (257, 1, 255), (257, 257, 257),
        (256, 16, 16), (1024, 64, 16), (512, 128, 128), (4096, 16, 64), (64, 32, 4096), (300, 300, 40),
    };

    public static TheoryData<bool, bool> Transposes => new() { { false, false }, { true, false }, { false, true }, { true, true } };

    [GemmPathTheory(ManagedGemmPath.Vector512), MemberData(nameof(Transposes))]
    public void Vector512_matches_the_reference_on_every_small_edge_shape(bool transposeA, bool transposeB) =>
        CheckEdgeShapes(ManagedGemmPath.Vector512, transposeA, transposeB);

    [GemmPathTheory(ManagedGemmPath.Vector256), MemberData(nameof(Transposes))]
    public void Vector256_matches_the_reference_on_every_small_edge_shape(bool transposeA, bool transposeB) =>
        CheckEdgeShapes(ManagedGemmPath.Vector256, transposeA, transposeB);

    [GemmPathTheory(ManagedGemmPath.Scalar), MemberData(nameof(Transposes))]
    public void Scalar_matches_the_reference_on_every_small_edge_shape(bool transposeA, bool transposeB) =>
        CheckEdgeShapes(ManagedGemmPath.Scalar, transposeA, transposeB);

    [GemmPathTheory(ManagedGemmPath.Vector512), MemberData(nameof(Transposes))]
    public void Vector512_matches_the_reference_on_block_edges_and_flow_shapes(bool transposeA, bool transposeB) =>
        CheckLargeShapes(ManagedGemmPath.Vector512, transposeA, transposeB);

    [GemmPathTheory(ManagedGemmPath.Vector256), MemberData(nameof(Transposes))]
    public void Vector256_matches_the_reference_on_block_edges_and_flow_shapes(bool transposeA, bool transposeB) =>
        CheckLargeShapes(ManagedGemmPath.Vector256, transposeA, transposeB);

    [GemmPathTheory(ManagedGemmPath.Scalar), MemberData(nameof(Transposes))]
    public void Scalar_matches_the_reference_on_block_edges_and_flow_shapes(bool transposeA, bool transposeB) =>
        CheckLargeShapes(ManagedGemmPath.Scalar, transposeA, transposeB);

    [Theory]
    [InlineData(ManagedGemmPath.Vector512)]
    [InlineData(ManagedGemmPath.Vector256)]
    [InlineData(ManagedGemmPath.Scalar)]
    public void Leading_dimensions_wider_than_the_rows_are_honoured_and_the_gaps_left_alone(ManagedGemmPath path)
    {
        if (!ManagedGemm.IsSupported(path))
            return;    // the edge-shape theories above report the skip for this path
        foreach (var (tA, tB) in new[] { (false, false), (true, false), (false, true), (true, true) })
            foreach (var (m, n, k) in new[] { (9, 33, 7), (40, 70, 300), (257, 20, 9) })
            {
                var check = new GemmCheck(tA, tB, m, n, k, 1.25f, 0.5f, seed: m * 7 + n, pad: 5);
                var c = check.NewC();
                ManagedGemm.Run(tA, tB, m, n, k, check.Alpha, check.A, check.Lda, check.B, check.Ldb, check.Beta, c, check.Ldc, path);
                check.AssertMatchesReference(c, path.ToString());
            }
    }

    [Theory]
    [InlineData(ManagedGemmPath.Best, 33, 40, 17)]
    [InlineData(ManagedGemmPath.Best, 8, 32, 0)]
    [InlineData(ManagedGemmPath.Scalar, 9, 7, 5)]
    [InlineData(ManagedGemmPath.Vector256, 13, 17, 300)]
    public void Beta_zero_overwrites_nan_and_infinity_in_c(ManagedGemmPath path, int m, int n, int k)
    {
        if (!ManagedGemm.IsSupported(path))
            return;
        var check = new GemmCheck(false, true, m, n, k, 1f, 0f, seed: 3);
        var c = new float[m * n];
        for (int i = 0; i < c.Length; i++)
            c[i] = i % 2 == 0 ? float.NaN : float.NegativeInfinity;
        ManagedGemm.Run(false, true, m, n, k, 1f, check.A, check.Lda, check.B, check.Ldb, 0f, c, n, path);
        Assert.All(c, v => Assert.True(float.IsFinite(v)));
        check.AssertMatchesReference(c, path.ToString());
    }

    [Fact]
    public void Alpha_zero_or_empty_k_scales_c_by_beta_only()
    {
        var c = new float[] { 1, 2, 3, 4, 5, 6 };
        ManagedGemm.Run(false, false, 2, 3, 4, 0f, new float[8], 4, new float[12], 3, 2f, c, 3);
        Assert.Equal(new float[] { 2, 4, 6, 8, 10, 12 }, c);
        ManagedGemm.Run(false, false, 2, 3, 0, 1f, ReadOnlySpan<float>.Empty, 1, ReadOnlySpan<float>.Empty, 3, 0f, c, 3);
        Assert.Equal(new float[6], c);
    }

    [Theory]
    [InlineData(false, false, 512, 64, 64)]     // rows split
    [InlineData(true, false, 203, 96, 50)]      // rows split, transposed A, partial tiles
    [InlineData(false, true, 8, 1024, 64)]      // columns split: few rows, wide C
    [InlineData(true, true, 16, 700, 100)]      // columns split, both transposed
    public void Parallel_runs_are_bit_identical_to_single_threaded_ones(bool transposeA, bool transposeB, int m, int n, int k)
    {
        var check = new GemmCheck(transposeA, transposeB, m, n, k, 0.75f, 0.5f, seed: m + n + k);
        var single = check.NewC();
        ManagedGemm.Run(transposeA, transposeB, m, n, k, check.Alpha, check.A, check.Lda, check.B, check.Ldb, check.Beta, single, check.Ldc);
        foreach (int degree in new[] { 2, 3 })
        {
            using var runner = new ShardRunner(degree);
            var parallel = check.NewC();
            ManagedGemm.RunParallel(runner, transposeA, transposeB, m, n, k, check.Alpha, check.A, check.Lda, check.B, check.Ldb, check.Beta, parallel, check.Ldc);
            Assert.Equal(single, parallel);
        }
        check.AssertMatchesReference(single, "managed");
    }

    [Fact]
    public void Spans_too_short_for_the_shape_are_rejected_before_any_write()
    {
        var c = new float[6];
        Assert.Throws<ArgumentException>(() => ManagedGemm.Run(false, false, 2, 3, 4, 1f, new float[7], 4, new float[12], 3, 0f, c, 3));
        Assert.Throws<ArgumentException>(() => ManagedGemm.Run(false, true, 2, 3, 4, 1f, new float[8], 4, new float[11], 4, 0f, c, 3));
        Assert.Throws<ArgumentException>(() => ManagedGemm.Run(false, false, 2, 3, 4, 1f, new float[8], 4, new float[12], 3, 0f, new float[5], 3));
        Assert.Throws<ArgumentException>(() => ManagedGemm.Run(false, false, 2, 3, 4, 1f, new float[8], 3, new float[12], 3, 0f, c, 3));
        Assert.Equal(new float[6], c);
    }

    private static void CheckEdgeShapes(ManagedGemmPath path, bool transposeA, bool transposeB)
    {
        int index = 0;
        foreach (int m in EdgeSizes)
            foreach (int n in EdgeSizes)
                foreach (int k in EdgeSizes)
                {
                    var (alpha, beta) = Scalings[index++ % Scalings.Length];
                    Check(path, new GemmCheck(transposeA, transposeB, m, n, k, alpha, beta, seed: index));
                }
    }

    private static void CheckLargeShapes(ManagedGemmPath path, bool transposeA, bool transposeB)
    {
        int index = 0;
        foreach (var (m, n, k) in LargeShapes)
        {
            var (alpha, beta) = Scalings[index++ % Scalings.Length];
            Check(path, new GemmCheck(transposeA, transposeB, m, n, k, alpha, beta, seed: index));
        }
    }

    private static void Check(ManagedGemmPath path, GemmCheck check)
    {
        var c = check.NewC();
        ManagedGemm.Run(check.TransposeA, check.TransposeB, check.M, check.N, check.K, check.Alpha,
            check.A, check.Lda, check.B, check.Ldb, check.Beta, c, check.Ldc, path);
        check.AssertMatchesReference(c, path.ToString());
    }
}
