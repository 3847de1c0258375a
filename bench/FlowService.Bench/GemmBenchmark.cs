using System.Diagnostics;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Parallel;

namespace FlowService.Bench;

/// <summary>
/// GFLOP/s (2·m·n·k per call) of every GEMM on the shapes a flow's MLP runs, plus 512x256x256, and
/// the machine's fp32 peak for comparison. Each figure is the best of several timed batches of
/// calls (the machine is shared; the best batch is the one least disturbed).
/// </summary>
internal static class GemmBenchmark
{
    private sealed record Shape(string Role, bool TransposeA, bool TransposeB, int M, int N, int K);

    private static readonly Shape[] Shapes =
    {
        new("headline C = A·B", false, false, 512, 256, 256),
        new("forward y = x·Wᵀ", false, true, 512, 256, 256),
        new("forward y = x·Wᵀ", false, true, 512, 128, 128),
        new("forward y = x·Wᵀ", false, true, 4096, 64, 16),
        new("forward y = x·Wᵀ", false, true, 256, 16, 128),
        new("forward y = x·Wᵀ (first layer)", false, true, 512, 64, 8),
        new("forward y = x·Wᵀ", false, true, 256, 16, 16),
        new("dX = dY·W", false, false, 512, 128, 128),
        new("dX = dY·W", false, false, 4096, 256, 256),
        new("dW += dYᵀ·X", true, false, 128, 128, 512),
        new("dW += dYᵀ·X", true, false, 256, 256, 4096),
        new("dW += dYᵀ·X", true, false, 16, 128, 4096),
    };

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        double ghz = ClockEstimate.MeasureGHz();
        int cores = Environment.ProcessorCount;
        // 2 FMA pipes x fp32 lanes of the widest vector the FMA units take (16 with AVX-512, 8 with AVX2) x 2 flops per FMA.
        int lanes = ManagedGemm.BestPath == ManagedGemmPath.Vector512 ? 16 : ManagedGemm.BestPath == ManagedGemmPath.Vector256 ? 8 : 1;
        double peakCore = ghz * 2 * lanes * 2;
        Console.WriteLine($"GEMM benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {cores} cores, load average {LoadAverage()}");
        Console.WriteLine($"managed path {ManagedGemm.BestPath}; OpenBLAS {(OpenBlasGemm.IsAvailable ? $"core {OpenBlasGemm.CoreName}, 1 thread" : OpenBlasGemm.UnavailableReason)}");
        Console.WriteLine($"clock {ghz:F2} GHz (dependent integer-op chain, best of 100 runs of 2 ms) -> fp32 peak {peakCore:F0} GFLOP/s per core, {peakCore * cores:F0} for {cores} cores (GHz x 2 FMA x {lanes} lanes x 2)");
        using var runner = new ShardRunner(cores);
        Console.WriteLine(ShardOverhead.Report(runner));
        Console.WriteLine();
        Console.WriteLine($"{"shape",-44} {"managed 1T",11} {"managed V256",13} {$"managed {cores}T",11} {"OpenBLAS 1T",12} {"reference",10}   GFLOP/s");

        foreach (var shape in Shapes)
        {
            var data = new Operands(shape);
            double managed = Measure(shape, quick, () => ManagedGemm.Run(shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, 1f, data.A, data.Lda, data.B, data.Ldb, 0f, data.C, shape.N));
            double v256 = ManagedGemm.IsSupported(ManagedGemmPath.Vector256)
                ? Measure(shape, quick, () => ManagedGemm.Run(shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, 1f, data.A, data.Lda, data.B, data.Ldb, 0f, data.C, shape.N, ManagedGemmPath.Vector256))
                : double.NaN;
            double parallel = Measure(shape, quick, () => ManagedGemm.RunParallel(runner, shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, 1f, data.A, data.Lda, data.B, data.Ldb, 0f, data.C, shape.N));
            double openBlas = OpenBlasGemm.IsAvailable
                ? Measure(shape, quick, () => OpenBlasGemm.Run(shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, 1f, data.A, data.Lda, data.B, data.Ldb, 0f, data.C, shape.N))
                : double.NaN;
            // The reference is ~100x slower: one shape is enough to show the gap.
            double reference = shape == Shapes[0]
                ? Measure(shape, quick: true, () => ReferenceGemm.Run(shape.TransposeA, shape.TransposeB, shape.M, shape.N, shape.K, 1f, data.A, data.Lda, data.B, data.Ldb, 0f, data.C, shape.N))
                : double.NaN;
            string name = $"{shape.Role} {shape.M}x{shape.N}x{shape.K}";
            Console.WriteLine($"{name,-44} {managed,11:F1} {v256,13:F1} {parallel,11:F1} {openBlas,12:F1} {reference,10:F2}");
            if (shape == Shapes[0])
                Console.WriteLine($"{"",-44} {managed / peakCore,11:P0} {v256 / peakCore,13:P0} {parallel / (peakCore * cores),11:P0} {openBlas / peakCore,12:P0}   of the 1-core / {cores}-core peak");
        }
        return 0;
    }

    /// <summary>
    /// Best GFLOP/s over 20 batches of calls (4 with --quick), each ~10 ms: short batches so that on a
    /// shared machine some of them run while both cores are free.
    /// </summary>
    private static double Measure(Shape shape, bool quick, Action call)
    {
        double flops = 2.0 * shape.M * shape.N * shape.K;
        call();
        long start = Stopwatch.GetTimestamp();
        call();
        double once = Math.Max(Stopwatch.GetElapsedTime(start).TotalSeconds, 1e-7);
        int calls = (int)Math.Clamp(0.01 / once, 1, 100_000);
        double best = double.MaxValue;
        for (int batch = 0; batch < (quick ? 4 : 20); batch++)
        {
            start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++)
                call();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalSeconds / calls);
        }
        return flops / best / 1e9;
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private sealed class Operands
    {
        public Operands(Shape shape)
        {
            var random = new Random(1);
            A = Enumerable.Range(0, shape.M * shape.K).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
            B = Enumerable.Range(0, shape.K * shape.N).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
            C = new float[shape.M * shape.N];
            Lda = shape.TransposeA ? shape.M : shape.K;
            Ldb = shape.TransposeB ? shape.K : shape.N;
        }

        public float[] A { get; }
        public float[] B { get; }
        public float[] C { get; }
        public int Lda { get; }
        public int Ldb { get; }
    }
}
