using System.Diagnostics;
using System.Runtime.CompilerServices;
using FlowService.Model.Compute.Parallel;

namespace FlowService.Bench;

/// <summary>
/// What splitting a small piece of work costs: one run of <c>Degree</c> shards of ~2 µs each, on
/// one thread, on the ShardRunner and with Parallel.For. Ideal parallel time is one shard's time.
/// </summary>
internal static class ShardOverhead
{
    private const int ShardWork = 4000;    // dependent integer operations, ~2 µs at 3.5 GHz (two per iteration)

    public static string Report(ShardRunner runner)
    {
        int shards = runner.Degree;
        var body = new WorkBody();
        double sequential = BestMicroseconds(() =>
        {
            for (int s = 0; s < shards; s++)
                body.Run(s);
        });
        double pooled = BestMicroseconds(() => runner.Run(shards, body));
        double parallelFor = BestMicroseconds(() => System.Threading.Tasks.Parallel.For(0, shards, s => body.Run(s)));
        return $"{shards} shards of ~{sequential / shards:F1} µs: one thread {sequential:F1} µs, ShardRunner {pooled:F1} µs, Parallel.For {parallelFor:F1} µs per run (best batch)";
    }

    private static double BestMicroseconds(Action run)
    {
        for (int i = 0; i < 500; i++)
            run();
        double best = double.MaxValue;
        for (int batch = 0; batch < 50; batch++)
        {
            const int calls = 500;
            long start = Stopwatch.GetTimestamp();
            for (int i = 0; i < calls; i++)
                run();
            best = Math.Min(best, Stopwatch.GetElapsedTime(start).TotalMicroseconds / calls);
        }
        return best;
    }

    private readonly struct WorkBody : IShardBody
    {
        [MethodImpl(MethodImplOptions.NoInlining)]
        public void Run(int shard)
        {
            ulong x = (ulong)shard;
            for (int i = 0; i < ShardWork; i++)
            {
                x += (ulong)i;
                x ^= 0x9E3779B97F4A7C15;
            }
            GC.KeepAlive(x);
        }
    }
}
