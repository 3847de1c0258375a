using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Parallel;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>The backend's tensor-level GEMM: shape checks, implementation choice and fallback, views.</summary>
public sealed class CpuBackendGemmTests
{
    [Theory]
    [InlineData(GemmImplementation.Managed)]
    [InlineData(GemmImplementation.OpenBlas)]
    [InlineData(GemmImplementation.Reference)]
    public void Every_implementation_computes_the_linear_layer_products(GemmImplementation implementation)
    {
        var backend = new CpuBackend(implementation);
        // y = x·Wᵀ (forward), dX = dY·W, dW += dYᵀ·X on a 300-row batch, 24 in, 40 out.
        var x = Random(backend, 300, 24, seed: 1);
        var w = Random(backend, 40, 24, seed: 2);
        var dy = Random(backend, 300, 40, seed: 3);
        var y = backend.Allocate(300, 40);
        var dx = backend.Allocate(300, 24);
        var dw = Random(backend, 40, 24, seed: 4);
        var dw0 = dw.Span().ToArray();

        backend.Gemm(false, true, 1f, x, w, 0f, y);
        backend.Gemm(false, false, 1f, dy, w, 0f, dx);
        backend.Gemm(true, false, 1f, dy, x, 1f, dw);

        new GemmCheck(false, true, 300, 40, 24, 1f, 0f, seed: 0).AssertSame(x, w, y, null);
        new GemmCheck(false, false, 300, 24, 40, 1f, 0f, seed: 0).AssertSame(dy, w, dx, null);
        new GemmCheck(true, false, 40, 24, 300, 1f, 1f, seed: 0).AssertSame(dy, x, dw, dw0);
    }

    [Fact]
    public void OpenBlas_falls_back_to_the_managed_gemm_only_where_it_is_missing()
    {
        var backend = new CpuBackend(GemmImplementation.OpenBlas);
        Assert.Equal(OpenBlasGemm.IsAvailable ? GemmImplementation.OpenBlas : GemmImplementation.Managed, backend.GemmImplementation);
    }

    [Theory]
    [InlineData(null, GemmImplementation.Managed)]
    [InlineData("", GemmImplementation.Managed)]
    [InlineData("managed", GemmImplementation.Managed)]
    [InlineData("OpenBLAS", GemmImplementation.OpenBlas)]
    [InlineData(" reference ", GemmImplementation.Reference)]
    public void The_environment_setting_is_parsed(string? value, GemmImplementation expected) =>
        Assert.Equal(expected, GemmSelection.Parse(value));

    [Fact]
    public void An_unknown_setting_is_rejected_with_the_variable_and_the_choices()
    {
        var error = Assert.Throws<ArgumentException>(() => GemmSelection.Parse("mkl"));
        Assert.Contains("FLOWSERVICE_GEMM", error.Message);
        Assert.Contains("managed, openblas, reference", error.Message);
    }

    [Fact]
    public void Mismatched_shapes_are_rejected_and_c_is_left_alone()
    {
        var backend = new CpuBackend(GemmImplementation.Managed);
        var a = backend.Allocate(4, 3);
        var b = backend.Allocate(4, 5);
        var c = backend.Allocate(4, 5);
        backend.Fill(c, 7f);
        var error = Assert.Throws<ArgumentException>(() => backend.Gemm(false, false, 1f, a, b, 0f, c));
        Assert.Contains("op(A) 4x3, op(B) 4x5", error.Message);
        Assert.All(c.Span().ToArray(), v => Assert.Equal(7f, v));
    }

    [Fact]
    public void A_row_slice_view_is_multiplied_in_place_and_the_rest_of_its_storage_untouched()
    {
        var backend = new CpuBackend(GemmImplementation.Managed, new ShardRunner(2));
        var a = Random(backend, 64, 16, seed: 5);
        var b = Random(backend, 16, 48, seed: 6);
        var whole = backend.Allocate(100, 48);
        backend.Fill(whole, -3f);
        var view = whole.SliceRows(20, 64);
        backend.Gemm(false, false, 1f, a, b, 0f, view);
        new GemmCheck(false, false, 64, 48, 16, 1f, 0f, seed: 0).AssertSame(a, b, view, null);
        var all = whole.Span();
        Assert.All(all[..(20 * 48)].ToArray(), v => Assert.Equal(-3f, v));
        Assert.All(all[(84 * 48)..].ToArray(), v => Assert.Equal(-3f, v));
    }

    [Fact]
    public void A_large_gemm_spread_over_the_runner_matches_the_reference()
    {
        var backend = new CpuBackend(GemmImplementation.Managed, new ShardRunner(2));
        var a = Random(backend, 512, 256, seed: 7);
        var b = Random(backend, 256, 64, seed: 8);
        var c = backend.Allocate(512, 64);
        backend.Gemm(false, false, 1f, a, b, 0f, c);
        new GemmCheck(false, false, 512, 64, 256, 1f, 0f, seed: 0).AssertSame(a, b, c, null);
    }

    private static Tensor Random(CpuBackend backend, int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var t = backend.Allocate(rows, cols);
        var span = t.Span();
        for (int i = 0; i < span.Length; i++)
            span[i] = (float)(random.NextDouble() * 2 - 1);
        return t;
    }
}
