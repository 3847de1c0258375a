using System.Diagnostics;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;

namespace FlowService.Bench;

/// <summary>
/// Where the time of <see cref="FlowBenchmark"/>'s measurements goes: the same flows on a
/// <see cref="ProfiledBackend"/>, per backend op and shape, in µs per training step (summed over
/// the shards' threads, so up to Degree x the wall time) and per 512-row scoring call; plus the
/// wall time of a step and of a call, for the share the ops do not cover (host code, shard starts).
/// </summary>
internal static class FlowProfile
{
    public static int Run(string[] args)
    {
        string[] only = args.SkipWhile(a => a != "--only").Skip(1).Take(1).SelectMany(a => a.Split(',')).ToArray();
        bool images = args.Contains("--images");
        ProfiledBackend.ThreadCpuTime = args.Contains("--cpu");
        int steps = args.Contains("--quick") ? 50 : 200;
        if (images)
            steps /= 10;
        // Images: batches of 64 (bench/run_images.sh), pixel values in [0, 256); vectors: FlowBenchmark.Batch rows in [-2, 2).
        int batch = images ? 64 : FlowBenchmark.Batch;
        var backend = new ProfiledBackend(CpuBackend.Instance);
        foreach (var shape in (images ? FlowShape.Images : FlowShape.All).Where(s => only.Length == 0 || only.Contains(s.Name)))
        {
            var flow = NormalizingFlow.Create(shape.SpecJson, shape.Features, contextFeatures: 0, seed: 1, backend: backend);
            var data = new float[16 * batch * shape.Features];
            var random = new Random(2);
            for (int i = 0; i < data.Length; i++)
                data[i] = images ? (float)(random.NextDouble() * 256) : (float)(random.NextDouble() * 4 - 2);
            var step = new ShardedTrainingStep(flow, data, 16 * batch, batch, ShardRunner.Shared);
            Report($"{shape.Name} training step (batch {batch}, {step.Shards} shards)", backend, steps, step.Run);

            var x = data.AsSpan(0, batch * shape.Features).ToArray();
            var logProb = new float[batch];
            Report($"{shape.Name} scoring, {batch} rows", backend, steps, () => flow.LogProb(x, batch, ReadOnlySpan<float>.Empty, logProb));
            var one = new float[1];
            var row = x.AsSpan(0, shape.Features).ToArray();
            Report($"{shape.Name} scoring, 1 row", backend, images ? steps : steps * 10, () => flow.LogProb(row, 1, ReadOnlySpan<float>.Empty, one));
        }
        return 0;
    }

    private static void Report(string title, ProfiledBackend backend, int calls, Action call)
    {
        for (int i = 0; i < Math.Max(Math.Min(50, calls), calls / 2); i++)
            call();
        backend.Reset();
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < calls; i++)
            call();
        double wall = Stopwatch.GetElapsedTime(start).TotalMicroseconds / calls;
        var rows = backend.Snapshot();
        double ops = rows.Sum(r => r.Seconds) * 1e6 / calls;
        Console.WriteLine($"== {title}: {wall:F1} µs wall per call; backend ops {ops:F1} µs (all threads)");
        foreach (var (op, shape, count, seconds) in rows.Take(24))
            Console.WriteLine($"  {op,-32} {shape,-14} {count / (double)calls,6:F1}/call {seconds * 1e6 / calls,9:F1} µs {seconds * 1e6 / calls / ops,6:P0}");
    }
}
