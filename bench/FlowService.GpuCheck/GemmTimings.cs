using System.Diagnostics;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Cuda;

namespace FlowService.GpuCheck;

/// <summary>GEMM throughput, cuBLAS through the backend against the CPU backend, on flow-sized shapes.</summary>
internal static class GemmTimings
{
    public static void Run(CudaBackend gpu, TextWriter output)
    {
        output.WriteLine("| GEMM m x n x k (C = A·Bᵀ, as Linear forward) | CUDA ms | CUDA GFLOP/s | CPU backend ms | CPU GFLOP/s | speed-up |");
        output.WriteLine("| --- | --- | --- | --- | --- | --- |");
        foreach ((int m, int n, int k) in new[] { (512, 256, 256), (4096, 256, 256), (65536, 256, 256) })
        {
            double flops = 2.0 * m * n * k;
            double gpuMs = TimeGpu(gpu, m, n, k);
            double cpuMs = m <= 4096 ? TimeCpu(m, n, k) : double.NaN;
            output.WriteLine($"| {m} x {n} x {k} | {gpuMs:F4} | {flops / gpuMs / 1e6:F0} | {cpuMs:F3} | {flops / cpuMs / 1e6:F1} | {cpuMs / gpuMs:F0}x |");
        }
    }

    /// <summary>Median over 9 event-timed batches of 50 GEMMs each, after a warm-up (cuBLAS handle, heuristics).</summary>
    private static double TimeGpu(CudaBackend gpu, int m, int n, int k)
    {
        var random = new Random(1);
        Tensor a = Upload(gpu, random, m, k), b = Upload(gpu, random, n, k), c = gpu.Allocate(m, n);
        for (int i = 0; i < 10; i++)
            gpu.Gemm(false, true, 1f, a, b, 0f, c);
        gpu.Synchronize();
        var samples = new List<double>();
        for (int r = 0; r < 9; r++)
            samples.Add(gpu.ElapsedMilliseconds(() =>
            {
                for (int i = 0; i < 50; i++)
                    gpu.Gemm(false, true, 1f, a, b, 0f, c);
            }) / 50);
        a.Storage.Dispose();
        b.Storage.Dispose();
        c.Storage.Dispose();
        return Median(samples);
    }

    private static double TimeCpu(int m, int n, int k)
    {
        IBackend cpu = CpuBackend.Instance;
        var random = new Random(1);
        Tensor a = Upload(cpu, random, m, k), b = Upload(cpu, random, n, k), c = cpu.Allocate(m, n);
        cpu.Gemm(false, true, 1f, a, b, 0f, c);
        var samples = new List<double>();
        for (int r = 0; r < 5; r++)
        {
            var clock = Stopwatch.StartNew();
            cpu.Gemm(false, true, 1f, a, b, 0f, c);
            samples.Add(clock.Elapsed.TotalMilliseconds);
        }
        return Median(samples);
    }

    internal static Tensor Upload(IBackend backend, Random random, int rows, int cols)
    {
        var data = new float[rows * cols];
        for (int i = 0; i < data.Length; i++)
            data[i] = (float)(random.NextDouble() * 2 - 1);
        Tensor t = backend.Allocate(rows, cols);
        backend.Upload(data, t);
        return t;
    }

    internal static double Median(List<double> samples)
    {
        samples.Sort();
        return samples[samples.Count / 2];
    }
}
