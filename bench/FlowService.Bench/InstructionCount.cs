using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;

namespace FlowService.Bench;

/// <summary>
/// A fixed amount of work for instruction counting on a shared machine, where wall-clock figures
/// move with the load: <c>count SHAPE train|score|latency CALLS</c> runs 3 warm-up calls and then
/// exactly CALLS training steps, 512-row scoring calls or 1-row scoring calls (<c>count spline
/// reference|kernel CALLS</c>: the spline leaf alone, <see cref="SplineCount"/>). Run it under
/// <c>valgrind --tool=callgrind</c> with CALLS = N and 2N (and DOTNET_TieredCompilation=0,
/// FLOWSERVICE_THREADS=1, so the JIT and the shard threads do the same work every run): the
/// difference of the two totals over N is the instructions per call, start-up and JIT cancelled.
/// </summary>
internal static class InstructionCount
{
    public static int Run(string[] args)
    {
        if (args.Length == 3 && args[0] == "spline" && int.TryParse(args[2], out int splineCalls))
        {
            var spline = SplineCount.Call(args[1]);
            for (int i = 0; i < 3 + splineCalls; i++)
                spline();
            Console.WriteLine($"spline {args[1]}: {splineCalls} calls after 3 warm-up calls");
            return 0;
        }
        if (args.Length != 3 || !int.TryParse(args[2], out int calls) || calls < 0
            || FlowShape.All.FirstOrDefault(s => s.Name == args[0]) is not { } shape)
        {
            Console.Error.WriteLine($"count: usage count SHAPE train|score|latency CALLS, SHAPE one of {string.Join(", ", FlowShape.All.Select(s => s.Name))}");
            return 1;
        }
        var flow = NormalizingFlow.Create(shape.SpecJson, shape.Features, contextFeatures: 0, seed: 1);
        var data = new float[16 * FlowBenchmark.Batch * shape.Features];
        var random = new Random(2);
        for (int i = 0; i < data.Length; i++)
            data[i] = (float)(random.NextDouble() * 4 - 2);
        var x = data.AsSpan(0, FlowBenchmark.Batch * shape.Features).ToArray();
        var logProb = new float[FlowBenchmark.Batch];
        Action call = args[1] switch
        {
            "train" => new ShardedTrainingStep(flow, data, 16 * FlowBenchmark.Batch, FlowBenchmark.Batch, ShardRunner.Shared).Run,
            "score" => () => flow.LogProb(x, FlowBenchmark.Batch, ReadOnlySpan<float>.Empty, logProb),
            "latency" => () => flow.LogProb(x.AsSpan(0, shape.Features), 1, ReadOnlySpan<float>.Empty, logProb.AsSpan(0, 1)),
            _ => throw new ArgumentException($"count: the measurement must be train, score or latency, not {args[1]}"),
        };
        for (int i = 0; i < 3 + calls; i++)
            call();
        Console.WriteLine($"{shape.Name} {args[1]}: {calls} calls after 3 warm-up calls; log p[0] = {logProb[0]}");
        return 0;
    }
}
