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
        Tensor mask = GemmTimings.Upload(gpu, random, rows, cols);
        Row(output, "MaskWeights", gpu, () => gpu.MaskWeights(x, mask, y), 3 * bytes);
        Row(output, "AccumulateMaskedGradient", gpu, () => gpu.AccumulateMaskedGradient(x, mask, y), 4 * bytes);
        SplineRows(gpu, output);
        Tensor one = gpu.Allocate(1, 1), small = gpu.Allocate(64, 64);
        Row(output, "Fill 1 x 1 (submission cost of one driver call)", gpu, () => gpu.Fill(one, 1f), 4);
        Row(output, "MaskWeights 64 x 64 (submission cost of one NVRTC kernel)", gpu, () => gpu.MaskWeights(small, small, small), 3 * 64 * 64 * 4);
        Row(output, "Gemm 64 x 64 x 64 (submission cost of one cublasSgemm)", gpu, () => gpu.Gemm(false, true, 1f, small, small, 0f, small), 3 * 64 * 64 * 4);
        GraphRows(gpu, output);
    }

    /// <summary>A flow-step-like chain of 30 small ops (10 x Gemm 4096x64x64 + 2 element-wise), eager vs one CUDA graph replay.</summary>
    private static void GraphRows(CudaBackend gpu, TextWriter output)
    {
        var random = new Random(4);
        Tensor h = GemmTimings.Upload(gpu, random, 4096, 64), w = GemmTimings.Upload(gpu, random, 64, 64), m = GemmTimings.Upload(gpu, random, 64, 64);
        Tensor wm = gpu.Allocate(64, 64), out1 = gpu.Allocate(4096, 64);
        void Step()
        {
            for (int i = 0; i < 10; i++)
            {
                gpu.MaskWeights(w, m, wm);
                gpu.Gemm(false, true, 1f, h, wm, 0f, out1);
                gpu.AccumulateMaskedGradient(wm, m, w);
            }
        }
        long bytes = 10L * (4096 * 64 * 8 + 64 * 64 * 4 * 7);
        Row(output, "30-op chain (10 x MaskWeights + Gemm 4096x64x64 + AccumulateMaskedGradient), eager", gpu, Step, bytes);
        using CudaGraph graph = gpu.Capture(Step);
        Row(output, "the same 30 ops as one CUDA graph replay", gpu, graph.Launch, bytes);
    }

    /// <summary>The NSF leaf at d = 16, K = 8 over 65,536 rows: bytes are x, the 23·16 parameters per row, y (and the gradients).</summary>
    private static void SplineRows(CudaBackend gpu, TextWriter output)
    {
        const int rows = 65536, features = 16, bins = 8;
        int pcols = features * (3 * bins - 1);
        var random = new Random(3);
        Tensor x = GemmTimings.Upload(gpu, random, rows, features), p = GemmTimings.Upload(gpu, random, rows, pcols);
        Tensor y = gpu.Allocate(rows, features), logDet = gpu.Allocate(rows, 1), dx = gpu.Allocate(rows, features), dp = gpu.Allocate(rows, pcols);
        long xBytes = (long)rows * features * 4, pBytes = (long)rows * pcols * 4;
        Row(output, $"SplineForward ({rows} x {features}, K={bins})", gpu, () => gpu.SplineForward(x, p, bins, 3f, y, logDet), 2 * xBytes + pBytes);
        Row(output, $"SplineInverse ({rows} x {features}, K={bins})", gpu, () => gpu.SplineInverse(y, p, bins, 3f, x), 2 * xBytes + pBytes);
        Row(output, $"SplineBackward ({rows} x {features}, K={bins})", gpu, () => gpu.SplineBackward(x, p, y, logDet, bins, 3f, dx, dp), 3 * xBytes + 2 * pBytes);
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
