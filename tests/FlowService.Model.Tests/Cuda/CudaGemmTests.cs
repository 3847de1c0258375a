using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>cuBLAS GEMM (row-major through swapped operands) against the CPU backend, every transpose.</summary>
public sealed class CudaGemmTests
{
    [CudaTheory]
    [InlineData(false, false, 37, 29, 53)]
    [InlineData(true, false, 37, 29, 53)]
    [InlineData(false, true, 37, 29, 53)]
    [InlineData(true, true, 37, 29, 53)]
    [InlineData(false, false, 512, 256, 256)]
    [InlineData(true, false, 256, 64, 512)]
    [InlineData(false, true, 1, 1, 1)]
    [InlineData(true, true, 64, 200, 3)]
    public void Matches_the_cpu_backend(bool transposeA, bool transposeB, int m, int n, int k)
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        var random = new Random(m * 7 + n * 13 + k + (transposeA ? 1 : 0) + (transposeB ? 2 : 0));
        float[] a = ParityAssert.Random(random, m * k), b = ParityAssert.Random(random, k * n), c = ParityAssert.Random(random, m * n);
        (int aRows, int aCols) = transposeA ? (k, m) : (m, k);
        (int bRows, int bCols) = transposeB ? (n, k) : (k, n);
        foreach ((float alpha, float beta) in new[] { (1f, 0f), (-0.5f, 1.25f) })
        {
            float[] cpu = Run(CpuBackend.Instance, a, aRows, aCols, b, bRows, bCols, c, m, n, transposeA, transposeB, alpha, beta);
            float[] cuda = Run(gpu, a, aRows, aCols, b, bRows, bCols, c, m, n, transposeA, transposeB, alpha, beta);
            // cuBLAS sums the k products in another order than the CPU (blocked, split-k). Rounding
            // errors of random-signed terms grow like sqrt(k)·2⁻²⁴ (~1e-6 here), so 1e-4 relative to
            // max(1, |c|) holds with a wide margin and still catches a wrong transpose, offset or
            // leading dimension, which give errors of order 1.
            ParityAssert.Close(cpu, cuda, 1e-4, $"C(tA={transposeA}, tB={transposeB}, alpha={alpha}, beta={beta})");
        }
    }

    [CudaFact]
    public void Beta_zero_overwrites_nan_and_views_with_offsets_are_honoured()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        var random = new Random(11);
        float[] a = ParityAssert.Random(random, 9 * 4), b = ParityAssert.Random(random, 4 * 5);
        float[] c = Enumerable.Repeat(float.NaN, 9 * 5).ToArray();
        Tensor ga = CudaCoreOpsTests.Upload(gpu, a, 9, 4), gb = CudaCoreOpsTests.Upload(gpu, b, 4, 5), gc = CudaCoreOpsTests.Upload(gpu, c, 9, 5);
        Tensor ca = CudaCoreOpsTests.Upload(CpuBackend.Instance, a, 9, 4), cb = CudaCoreOpsTests.Upload(CpuBackend.Instance, b, 4, 5), cc = CudaCoreOpsTests.Upload(CpuBackend.Instance, c, 9, 5);
        gpu.Gemm(false, false, 1f, ga.SliceRows(3, 4), gb, 0f, gc.SliceRows(5, 4));
        CpuBackend.Instance.Gemm(false, false, 1f, ca.SliceRows(3, 4), cb, 0f, cc.SliceRows(5, 4));
        float[] expected = cc.Span().ToArray(), actual = CudaCoreOpsTests.DownloadAll(gpu, gc);
        for (int i = 0; i < 5 * 5; i++)
            Assert.True(float.IsNaN(actual[i]), "rows outside the output view must stay untouched");
        ParityAssert.Close(expected.AsSpan(25), actual.AsSpan(25), 1e-5, "C rows 5..8");
    }

    [CudaFact]
    public void An_empty_inner_dimension_scales_c_by_beta()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        Tensor a = gpu.Allocate(3, 0), b = gpu.Allocate(0, 2);
        Tensor c = CudaCoreOpsTests.Upload(gpu, [1, 2, 3, 4, 5, 6], 3, 2);
        gpu.Gemm(false, false, 1f, a, b, 0.5f, c);
        Assert.Equal(new float[] { 0.5f, 1, 1.5f, 2, 2.5f, 3 }, CudaCoreOpsTests.DownloadAll(gpu, c));
    }

    [CudaFact]
    public void Mismatched_shapes_are_refused()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        var e = Assert.Throws<ArgumentException>(() => gpu.Gemm(false, false, 1f, gpu.Allocate(2, 3), gpu.Allocate(4, 2), 0f, gpu.Allocate(2, 2)));
        Assert.Contains("GEMM shapes do not agree", e.Message);
    }

    private static float[] Run(IBackend backend, float[] a, int aRows, int aCols, float[] b, int bRows, int bCols, float[] c, int m, int n,
        bool transposeA, bool transposeB, float alpha, float beta)
    {
        Tensor ta = CudaCoreOpsTests.Upload(backend, a, aRows, aCols);
        Tensor tb = CudaCoreOpsTests.Upload(backend, b, bRows, bCols);
        Tensor tc = CudaCoreOpsTests.Upload(backend, c, m, n);
        backend.Gemm(transposeA, transposeB, alpha, ta, tb, beta, tc);
        return CudaCoreOpsTests.DownloadAll(backend, tc);
    }
}
