using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>The optimizer ops on the device against the CPU backend.</summary>
public sealed class CudaOptimizerTests
{
    private static Tensor On(IBackend backend, float[] values)
    {
        Tensor t = backend.Allocate(1, values.Length);
        backend.Upload(values, t);
        return t;
    }

    [CudaFact]
    public void AdamW_steps_are_bit_identical_to_the_CPU()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        CpuBackend cpu = CpuBackend.Instance;
        var random = new Random(5);
        const int n = 10_007;
        float[] p = ParityAssert.Random(random, n, 1f);
        Tensor[] onCpu = [On(cpu, p), cpu.Allocate(1, n), cpu.Allocate(1, n), cpu.Allocate(1, n)];
        Tensor[] onGpu = [On(gpu, p), gpu.Allocate(1, n), gpu.Allocate(1, n), gpu.Allocate(1, n)];
        for (int step = 1; step <= 5; step++)
        {
            float[] g = ParityAssert.Random(random, n, 0.1f);
            cpu.Upload(g, onCpu[1]);
            gpu.Upload(g, onGpu[1]);
            var settings = AdamWStepSettings.For(step, 1e-3, 0.9, 0.999, 1e-8, 0.01, gradientScale: 0.75f);
            cpu.AdamWStep(onCpu[0], onCpu[1], onCpu[2], onCpu[3], settings);
            gpu.AdamWStep(onGpu[0], onGpu[1], onGpu[2], onGpu[3], settings);
        }
        foreach (int k in new[] { 0, 2, 3 })
        {
            var fromGpu = new float[n];
            gpu.Download(onGpu[k], fromGpu);
            Assert.Equal(onCpu[k].Span().ToArray(), fromGpu);
        }
    }

    [CudaFact]
    public void Sum_of_squares_matches_the_CPU()
    {
        CudaBackend gpu = CudaTestDevice.Backend;
        float[] x = ParityAssert.Random(new Random(9), 1_000_003, 3f);
        Tensor cpuResult = CpuBackend.Instance.Allocate(1, 1), gpuResult = gpu.Allocate(1, 1);
        CpuBackend.Instance.SumOfSquares(On(CpuBackend.Instance, x), cpuResult);
        gpu.SumOfSquares(On(gpu, x), gpuResult);
        var fromGpu = new float[1];
        gpu.Download(gpuResult, fromGpu);
        Assert.Equal(cpuResult.Span()[0], fromGpu[0], cpuResult.Span()[0] * 1e-6f);
    }
}
