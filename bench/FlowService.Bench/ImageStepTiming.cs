using System.Diagnostics;
using System.Globalization;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;
using FlowService.Training.Engine;
using FlowService.Training.Images;
using FlowService.Training.Optimization;

namespace FlowService.Bench;

/// <summary>
/// Wall time of each training step of <see cref="ImageBenchmark"/>'s flow, on the trainer's own path (gather,
/// dequantization noise, <see cref="ShardedGradient"/>, global-norm clip, AdamW): the first steps one by one
/// (JIT tiers, first-touch allocations: what a short epoch pays) and the median and best of the rest, with the
/// bytes allocated per step, and the process CPU time per step (steadier than wall time on a shared machine). <c>FLOWSERVICE_THREADS=1</c> against the default shows how the step scales over cores.
/// </summary>
internal static class ImageStepTiming
{
    public static int Run(string[] args)
    {
        int steps = 40, batch = 64, shown = 10;
        string spec = ImageBenchmark.DefaultSpec;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--steps": steps = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--batch": batch = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--spec": spec = args[i + 1]; break;
                default:
                    Console.Error.WriteLine($"image-steps: unknown option {args[i]}");
                    return 1;
            }
        }
        var (shape, pixels) = IdxFormat.Read(File.ReadAllBytes("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"), 1L << 30);
        int d = shape[1] * shape[2], rows = Math.Min(shape[0], 4096);
        var images = pixels.AsSpan(0, rows * d).ToArray().Select(b => (float)b).ToArray();

        var flow = NormalizingFlow.Create(spec, d, 0, seed: 1);
        var initial = images.AsSpan(0, FlowTrainer.InitializationRows * d).ToArray();
        UniformDequantization.AddNoise(initial, new Random(3));
        flow.InitializeFromData(initial, FlowTrainer.InitializationRows, []);
        var gradient = new ShardedGradient(flow);
        var optimizer = new AdamW(flow.Backend, flow.Parameters.Length, new AdamWOptions());
        var x = new float[batch * d];
        var times = new double[steps];
        var cpu = new double[steps];
        using var process = System.Diagnostics.Process.GetCurrentProcess();
        var random = new Random(4);
        long allocatedBefore = 0;
        var jitBefore = System.Runtime.JitInfo.GetCompilationTime();
        long methodsBefore = System.Runtime.JitInfo.GetCompiledMethodCount(), firstAllocated = GC.GetTotalAllocatedBytes(precise: true);
        int collectionsBefore = GC.CollectionCount(0);
        long faultsBefore = MinorFaults();
        string firstStep = "";
        for (int step = 0; step < steps; step++)
        {
            if (step == shown)
                allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            long started = Stopwatch.GetTimestamp();
            process.Refresh();
            var cpuStarted = process.TotalProcessorTime;
            int first = step * batch % (rows - batch);
            images.AsSpan(first * d, batch * d).CopyTo(x);
            UniformDequantization.AddNoise(x, random);
            gradient.Compute(x, [], batch);
            double norm = GradientClipping.GlobalNorm(flow.Backend, gradient.Gradient);
            optimizer.Update(flow.Parameters, gradient.Gradient, 1e-3, GradientClipping.Coefficient(norm, 5.0));
            times[step] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            process.Refresh();
            cpu[step] = (process.TotalProcessorTime - cpuStarted).TotalMilliseconds;
            if (step == 0)
                firstStep = $"first step: {(System.Runtime.JitInfo.GetCompilationTime() - jitBefore).TotalMilliseconds:F0} ms compiling " +
                    $"{System.Runtime.JitInfo.GetCompiledMethodCount() - methodsBefore} methods (all threads), " +
                    $"{(GC.GetTotalAllocatedBytes(precise: true) - firstAllocated) / 1e6:F1} MB allocated, {GC.CollectionCount(0) - collectionsBefore} collections, " +
                    $"{MinorFaults() - faultsBefore} page faults";
        }
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var rest = times[Math.Min(shown, steps)..].Order().ToArray();
        Console.WriteLine($"batch {batch}, {ShardedGradient.ShardsFor(batch, d)} shards on {ShardRunner.Shared.Degree} threads; load {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine(firstStep);
        Console.WriteLine($"first steps (ms): {string.Join(' ', times.Take(shown).Select(t => t.ToString("F1", CultureInfo.InvariantCulture)))}");
        var restCpu = cpu[Math.Min(shown, steps)..].Order().ToArray();
        if (restCpu.Length > 0)
            Console.WriteLine($"steps {shown + 1}-{steps}: process CPU time median {restCpu[restCpu.Length / 2]:F1} ms per step (all threads; spinning workers included), first step {cpu[0]:F1} ms");
        if (rest.Length > 0)
            Console.WriteLine($"steps {shown + 1}-{steps}: median {rest[rest.Length / 2]:F1} ms, best {rest[0]:F1} ms ({batch * 1000 / rest[rest.Length / 2]:F0} / {batch * 1000 / rest[0]:F0} images/s), " +
                $"{allocated / (double)rest.Length:F0} bytes allocated per step");
        Console.WriteLine($"first {Math.Min(shown, steps)} steps: {batch * Math.Min(shown, steps) * 1000 / times.Take(shown).Sum():F0} images/s");
        return 0;
    }

    /// <summary>The process's minor page faults so far (/proc/self/stat field 10): first-touch memory costs dearly on a VM.</summary>
    internal static long MinorFaults()
    {
        string stat = File.ReadAllText("/proc/self/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], CultureInfo.InvariantCulture);
    }
}
