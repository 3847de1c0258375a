using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>The affine leaf, the fused bias + activation and the column ops on CUDA against the CPU backend.</summary>
public sealed class CudaAffineDenseColumnsTests
{
    [CudaTheory]
    [InlineData(1, 1)]
    [InlineData(300, 8)]
    [InlineData(1000, 33)]
    public void Affine_forward_inverse_and_backward_match_the_cpu(int rows, int d)
    {
        var random = new Random(rows + d);
        float[] x = ParityAssert.Random(random, rows * d, 3f), p = ParityAssert.Random(random, rows * 2 * d, 4f);
        float[] logDet = ParityAssert.Random(random, rows), dy = ParityAssert.Random(random, rows * d), dLogDet = ParityAssert.Random(random, rows);
        var results = new List<float[]>[2];
        IBackend[] backends = Backends();
        for (int which = 0; which < 2; which++)
        {
            IBackend b = backends[which];
            Tensor tx = Up(b, x, rows, d), tp = Up(b, p, rows, 2 * d), tl = Up(b, logDet, rows, 1);
            Tensor ty = b.Allocate(rows, d), back = b.Allocate(rows, d), dx = b.Allocate(rows, d), dp = b.Allocate(rows, 2 * d);
            b.AffineForward(tx, tp, 3f, ty, tl);
            b.AffineInverse(ty, tp, 3f, back);
            b.AffineBackward(tx, tp, Up(b, dy, rows, d), Up(b, dLogDet, rows, 1), 3f, dx, dp);
            results[which] = [Down(b, ty), Down(b, tl), Down(b, back), Down(b, dx), Down(b, dp)];
        }
        string[] names = ["y", "logDet", "inverse(y)", "dx", "dParameters"];
        for (int i = 0; i < names.Length; i++)
            ParityAssert.Close(results[0][i], results[1][i], 1e-4, $"affine {names[i]}");
    }

    [CudaTheory]
    [InlineData(FusedActivation.Identity)]
    [InlineData(FusedActivation.Relu)]
    [InlineData(FusedActivation.Tanh)]
    [InlineData(FusedActivation.Elu)]
    public void Bias_activation_forward_and_backward_match_the_cpu(FusedActivation activation)
    {
        foreach ((int rows, int cols) in new[] { (1, 1), (37, 70), (2000, 256) })
        {
            var random = new Random(rows * 3 + cols + (int)activation);
            float[] pre = ParityAssert.Random(random, rows * cols, 3f), bias = ParityAssert.Random(random, cols);
            float[] dOut = ParityAssert.Random(random, rows * cols), biasGradient = ParityAssert.Random(random, cols);
            var results = new List<float[]>[2];
            IBackend[] backends = Backends();
            for (int which = 0; which < 2; which++)
            {
                IBackend b = backends[which];
                Tensor tpre = Up(b, pre, rows, cols), tout = b.Allocate(rows, cols), tdpre = b.Allocate(rows, cols), tdb = Up(b, biasGradient, 1, cols);
                b.BiasActivationForward(tpre, Up(b, bias, 1, cols), tout, activation);
                b.BiasActivationBackward(tout, Up(b, dOut, rows, cols), tdpre, tdb, activation);
                // In place, as a layer does it: the pre-activation buffer becomes the output.
                b.BiasActivationForward(tpre, Up(b, bias, 1, cols), tpre, activation);
                results[which] = [Down(b, tout), Down(b, tdpre), Down(b, tdb), Down(b, tpre)];
            }
            string[] names = ["output", "dPreActivation", "biasGradient (accumulated)", "in-place output"];
            for (int i = 0; i < names.Length; i++)
                ParityAssert.Close(results[0][i], results[1][i], 1e-4, $"{activation} {rows}x{cols} {names[i]}");
        }
    }

    [CudaFact]
    public void The_bias_gradient_is_bit_identical_from_run_to_run()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        var random = new Random(23);
        const int rows = 5000, cols = 70;
        Tensor y = Up(gpu, ParityAssert.Random(random, rows * cols), rows, cols), dy = Up(gpu, ParityAssert.Random(random, rows * cols), rows, cols);
        float[] First()
        {
            Tensor db = gpu.Allocate(1, cols);
            gpu.BiasActivationBackward(y, dy, gpu.Allocate(rows, cols), db, FusedActivation.Tanh);
            return Down(gpu, db);
        }
        float[] reference = First();
        for (int i = 0; i < 5; i++)
            Assert.Equal(reference, First());
    }

    [CudaFact]
    public void Column_copies_adds_gathers_and_scatters_match_the_cpu()
    {
        const int rows = 129;
        var random = new Random(17);
        float[] source = ParityAssert.Random(random, rows * 10), destination = ParityAssert.Random(random, rows * 12);
        int[] gather = [7, 2, 9, 0], scatter = [11, 3, 5, 0];
        var results = new float[2][];
        IBackend[] backends = Backends();
        for (int which = 0; which < 2; which++)
        {
            IBackend b = backends[which];
            Tensor s = Up(b, source, rows, 10), d = Up(b, destination, rows, 12);
            b.CopyColumns(s, 1, d, 6, 5);
            b.AddColumns(s, 4, d, 0, 6);
            b.GatherColumns(s, gather, d, 8);
            b.ScatterColumns(s, 2, scatter, d, accumulate: true);
            b.ScatterColumns(s, 6, [1, 10], d, accumulate: false);
            b.GatherColumns(s, (int[])gather.Clone(), d, 2);   // same content, another array: the cached device list
            results[which] = Down(b, d);
        }
        ParityAssert.Close(results[0], results[1], 1e-6, "columns");
    }

    private static IBackend[] Backends() => [CpuBackend.Instance, CudaTestDevice.Backend];

    private static Tensor Up(IBackend backend, float[] data, int rows, int cols) => CudaCoreOpsTests.Upload(backend, data, rows, cols);

    private static float[] Down(IBackend backend, Tensor t) => CudaCoreOpsTests.DownloadAll(backend, t);
}
