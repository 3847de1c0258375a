using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>Masked weights and the rational-quadratic spline leaf on CUDA against the CPU backend.</summary>
public sealed class CudaMaskedAndSplineTests
{
    [CudaTheory]
    [InlineData(1, 1)]
    [InlineData(64, 17)]
    [InlineData(300, 257)]
    public void Masked_weights_and_masked_gradients_match_the_cpu(int rows, int cols)
    {
        var random = new Random(rows + cols);
        float[] weight = ParityAssert.Random(random, rows * cols), gradient = ParityAssert.Random(random, rows * cols);
        float[] destination = ParityAssert.Random(random, rows * cols);
        float[] mask = Enumerable.Range(0, rows * cols).Select(_ => random.Next(2) == 0 ? 0f : 1f).ToArray();
        float[][] results = Backends().Select(b =>
        {
            Tensor w = Up(b, weight, rows, cols), m = Up(b, mask, rows, cols), g = Up(b, gradient, rows, cols), d = Up(b, destination, rows, cols);
            Tensor masked = b.Allocate(rows, cols);
            b.MaskWeights(w, m, masked);
            b.AccumulateMaskedGradient(g, m, d);
            return Down(b, masked).Concat(Down(b, d)).ToArray();
        }).ToArray();
        ParityAssert.Close(results[0], results[1], 1e-6, "masked weights | accumulated gradient");
    }

    [CudaTheory]
    [InlineData(1, 1, 3f)]
    [InlineData(8, 5, 3f)]
    [InlineData(10, 16, 5f)]
    public void Spline_forward_inverse_and_backward_match_the_cpu(int bins, int features, float tailBound)
    {
        const int rows = 300;
        var random = new Random(bins * 100 + features);
        int pcols = features * RationalQuadraticSpline.ParametersPerElement(bins);
        float[] x = ParityAssert.Random(random, rows * features, tailBound * 1.3f);   // some in the identity tails
        float[] parameters = ParityAssert.Random(random, rows * pcols, 2f);
        float[] logDet = ParityAssert.Random(random, rows);
        float[] dy = ParityAssert.Random(random, rows * features), dLogDet = ParityAssert.Random(random, rows);
        var outputs = new List<float[]>[2];
        IBackend[] backends = Backends();
        float[]? cpuY = null;
        for (int which = 0; which < 2; which++)
        {
            IBackend b = backends[which];
            Tensor tx = Up(b, x, rows, features), tp = Up(b, parameters, rows, pcols), tl = Up(b, logDet, rows, 1);
            Tensor ty = b.Allocate(rows, features), back = b.Allocate(rows, features);
            b.SplineForward(tx, tp, bins, tailBound, ty, tl);
            cpuY ??= Down(b, ty);
            b.SplineInverse(Up(b, cpuY, rows, features), tp, bins, tailBound, back);
            Tensor tdy = Up(b, dy, rows, features), tdl = Up(b, dLogDet, rows, 1);
            Tensor dx = Up(b, Enumerable.Repeat(float.NaN, rows * features).ToArray(), rows, features);
            Tensor dp = Up(b, Enumerable.Repeat(float.NaN, rows * pcols).ToArray(), rows, pcols);
            b.SplineBackward(tx, tp, tdy, tdl, bins, tailBound, dx, dp);
            outputs[which] = [Down(b, ty), Down(b, tl), Down(b, back), Down(b, dx), Down(b, dp)];
        }
        ParityAssert.Close(outputs[0][0], outputs[1][0], 1e-4, $"spline K={bins} y");
        ParityAssert.Close(outputs[0][1], outputs[1][1], 1e-4, $"spline K={bins} logDet");
        // Gradients divide by q and den, which get small in steep or flat bins: there float32 loses
        // digits on either device (seen on the H100: dx 296.70 on CUDA vs 296.79 on the CPU, 2e-4
        // normwise). So both are measured against the double-precision reference, and CUDA must be
        // within 1e-4 of it or no further from it than 4x the CPU backend's own float32 error.
        (double[] dxReference, double[] dpReference) = SplineBackwardInDouble(x, parameters, dy, dLogDet, rows, features, bins, tailBound);
        AsAccurateAsTheCpu(dxReference, outputs[0][3], outputs[1][3], $"spline K={bins} dx");
        AsAccurateAsTheCpu(dpReference, outputs[0][4], outputs[1][4], $"spline K={bins} dParameters");

        // The inverse solves a quadratic per element; where a bin is nearly flat (derivative near its
        // 1e-3 floor) the root is ill-conditioned and float32 x agrees only to ~sqrt(eps) on either
        // device (seen on the H100: 2.8e-3 between CPU and CUDA, both off the true x). What both must
        // do is invert the forward map: the CPU's forward of CUDA's inverse gives back y to 1e-4.
        IBackend cpu = CpuBackend.Instance;
        Tensor again = cpu.Allocate(rows, features);
        cpu.SplineForward(Up(cpu, outputs[1][2], rows, features), Up(cpu, parameters, rows, pcols), bins, tailBound, again, cpu.Allocate(rows, 1));
        ParityAssert.Close(cpuY!, Down(cpu, again), 1e-4, $"spline K={bins}: CPU forward of CUDA inverse(y) vs y");
    }

    [CudaFact]
    public void Spline_forward_may_write_in_place()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        var random = new Random(9);
        float[] x = ParityAssert.Random(random, 20 * 3, 2f), p = ParityAssert.Random(random, 20 * 3 * 11);
        Tensor separate = gpu.Allocate(20, 3), inPlace = Up(gpu, x, 20, 3), tp = Up(gpu, p, 20, 33);
        gpu.SplineForward(Up(gpu, x, 20, 3), tp, 4, 3f, separate, gpu.Allocate(20, 1));
        gpu.SplineForward(inPlace, tp, 4, 3f, inPlace, gpu.Allocate(20, 1));
        Assert.Equal(Down(gpu, separate), Down(gpu, inPlace));
    }

    private static (double[] Dx, double[] DParameters) SplineBackwardInDouble(float[] x, float[] parameters, float[] dy, float[] dLogDet,
        int rows, int features, int bins, float tailBound)
    {
        int pcols = features * RationalQuadraticSpline.ParametersPerElement(bins);
        double[] p = parameters.Select(v => (double)v).ToArray();
        var dx = new double[rows * features];
        var dp = new double[rows * pcols];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < features; i++)
            {
                int row = r * pcols, widths = row + i * bins, heights = row + (features + i) * bins, derivatives = row + 2 * features * bins + i * (bins - 1);
                dx[r * features + i] = RationalQuadraticSpline.Backward<double>(x[r * features + i],
                    p.AsSpan(widths, bins), p.AsSpan(heights, bins), p.AsSpan(derivatives, bins - 1), tailBound,
                    dy[r * features + i], dLogDet[r], dp.AsSpan(widths, bins), dp.AsSpan(heights, bins), dp.AsSpan(derivatives, bins - 1));
            }
        }
        return (dx, dp);
    }

    private static void AsAccurateAsTheCpu(double[] reference, float[] cpu, float[] cuda, string what)
    {
        for (int i = 0; i < reference.Length; i++)
        {
            double cudaError = Math.Abs(cuda[i] - reference[i]), cpuError = Math.Abs(cpu[i] - reference[i]);
            double allowed = Math.Max(1e-4 * Math.Max(1.0, Math.Abs(reference[i])), 4 * cpuError);
            Assert.True(cudaError <= allowed, $"{what}[{i}]: CUDA {cuda[i]}, CPU {cpu[i]}, double reference {reference[i]} (CUDA error {cudaError:g3} > {allowed:g3})");
        }
    }

    private static IBackend[] Backends() => [CpuBackend.Instance, CudaTestDevice.Backend];

    private static Tensor Up(IBackend backend, float[] data, int rows, int cols) => CudaCoreOpsTests.Upload(backend, data, rows, cols);

    private static float[] Down(IBackend backend, Tensor t) => CudaCoreOpsTests.DownloadAll(backend, t);
}
