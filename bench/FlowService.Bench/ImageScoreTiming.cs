using System.Diagnostics;
using System.Globalization;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;
using FlowService.Training.Engine;
using FlowService.Training.Images;

namespace FlowService.Bench;

/// <summary>
/// Wall and process CPU time of each <see cref="NormalizingFlow.LogProb"/> call on --images dequantized test images,
/// repeated --calls times in one process: the first call is what <see cref="ImageBenchmark"/>'s one scoring call
/// measures (fresh workspaces, JIT tiers), the rest show the steady state. CPU time above wall time means both
/// cores worked.
/// </summary>
internal static class ImageScoreTiming
{
    public static int Run(string[] args)
    {
        int images = 500, calls = 6;
        string spec = ImageBenchmark.DefaultSpec;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--images": images = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
                case "--calls": calls = Math.Max(1, int.Parse(args[i + 1], CultureInfo.InvariantCulture)); break;
                case "--spec": spec = args[i + 1]; break;
                default:
                    Console.Error.WriteLine($"image-score: unknown option {args[i]}");
                    return 1;
            }
        }
        var (shape, pixels) = IdxFormat.Read(File.ReadAllBytes("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"), 1L << 30);
        int d = shape[1] * shape[2];
        var x = pixels.AsSpan(0, images * d).ToArray().Select(b => (float)b).ToArray();
        UniformDequantization.AddNoise(x, new Random(123));
        var flow = NormalizingFlow.Create(spec, d, 0, seed: 1);
        var initial = x.AsSpan(0, Math.Min(images, FlowTrainer.InitializationRows) * d).ToArray();
        flow.InitializeFromData(initial, initial.Length / d, []);
        var logProb = new float[images];
        using var process = Process.GetCurrentProcess();
        var wall = new double[calls];
        var cpu = new double[calls];
        var faults = new long[calls];
        var allocated = new long[calls];
        var collections = new int[calls];
        for (int call = 0; call < calls; call++)
        {
            process.Refresh();
            var cpuStarted = process.TotalProcessorTime;
            long faultsBefore = ImageStepTiming.MinorFaults();
            long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
            int collectionsBefore = GC.CollectionCount(0);
            long started = Stopwatch.GetTimestamp();
            flow.LogProb(x, images, [], logProb);
            wall[call] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            process.Refresh();
            cpu[call] = (process.TotalProcessorTime - cpuStarted).TotalMilliseconds;
            faults[call] = ImageStepTiming.MinorFaults() - faultsBefore;
            allocated[call] = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
            collections[call] = GC.CollectionCount(0) - collectionsBefore;
        }
        var rest = wall.Skip(1).DefaultIfEmpty(wall[0]).Order().ToArray();
        Console.WriteLine($"{images} images, {ShardRunner.Shared.Degree} threads; load {File.ReadAllText("/proc/loadavg").Trim()}");
        Console.WriteLine($"wall ms per call: {string.Join(' ', wall.Select(t => t.ToString("F1", CultureInfo.InvariantCulture)))}");
        Console.WriteLine($"CPU ms per call:  {string.Join(' ', cpu.Select(t => t.ToString("F1", CultureInfo.InvariantCulture)))}");
        Console.WriteLine($"page faults per call: {string.Join(' ', faults)}");
        Console.WriteLine($"KB allocated per call: {string.Join(' ', allocated.Select(b => b / 1024))}; collections: {string.Join(' ', collections)}");
        Console.WriteLine($"first call {images * 1000 / wall[0]:F0} images/s; later calls median {images * 1000 / rest[rest.Length / 2]:F0}, best {images * 1000 / rest[0]:F0} images/s; " +
            $"mean log p {logProb.Average():F3}");
        // The second half of the calls: past the JIT's tiers and the heap's first growth (page faults stop within ~10 calls).
        var steady = wall[(calls / 2)..].Order().ToArray();
        Console.WriteLine($"steady calls {calls / 2 + 1}-{calls}: median {steady[steady.Length / 2]:F1} ms ({images * 1000 / steady[steady.Length / 2]:F0} images/s)");
        return 0;
    }
}
