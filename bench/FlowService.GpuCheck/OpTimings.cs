using FlowService.Model.Compute;
using FlowService.Model.Compute.Cuda;

namespace FlowService.GpuCheck;

/// <summary>Element-wise and memory ops on the GPU: time per call and effective bandwidth (bytes read + written).</summary>
internal static class OpTimings
{
    public static void Run(CudaBackend gpu, TextWriter output)
    {
        const int rows = 65536, cols = 256;
        var random = new Random(2);
        Tensor x = GemmTimings.Upload(gpu, random, rows, cols), y = gpu.Allocate(rows, cols);
        long bytes = (long)rows * cols * 4;
        output.WriteLine($"| op ({rows} x {cols} float32) | µs per call | GB/s (read + write) |");
        output.WriteLine("| --- | --- | --- |");
        Row(output, "Copy (device to device)", gpu, () => gpu.Copy(x, y), 2 * bytes);
        Row(output, "Fill", gpu, () => gpu.Fill(y, 0.5f), bytes);
        var host = new float[rows * cols];
        Row(output, "Upload (pageable host to device)", gpu, () => gpu.Upload(host, y), bytes);
        Row(output, "Download (device to pageable host)", gpu, () => gpu.Download(y, host), bytes);
    }

    private static void Row(TextWriter output, string name, CudaBackend gpu, Action op, long bytes)
    {
        for (int i = 0; i < 3; i++)
            op();
        gpu.Synchronize();
        var samples = new List<double>();
        for (int r = 0; r < 7; r++)
            samples.Add(gpu.ElapsedMilliseconds(() =>
            {
                for (int i = 0; i < 20; i++)
                    op();
            }) / 20);
        double ms = GemmTimings.Median(samples);
        output.WriteLine($"| {name} | {ms * 1000:F1} | {bytes / ms / 1e6:F0} |");
    }
}
