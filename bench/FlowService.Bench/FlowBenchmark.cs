using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;

namespace FlowService.Bench;

/// <summary>
/// The engine's side of bench/run_flows.sh (bench/torch_bench.py is the PyTorch side): for every
/// <see cref="FlowShape"/>, training samples/s (<see cref="ShardedTrainingStep"/>, batch 512),
/// scoring rows/s (<see cref="NormalizingFlow.LogProb"/> on 512 rows, split over the cores as the
/// service's scoring does) and single-row scoring latency (median µs). Each throughput is calls
/// per second over at least --seconds after a warm-up, measured as torch_bench.py measures.
/// Prints one JSON object per line: {"bench", "metric", "value", "unit", "threads", "impl"}.
/// </summary>
internal static class FlowBenchmark
{
    public const int Batch = 512;
    private const int DataRows = 16 * Batch;

    public static int Run(string[] args)
    {
        double seconds = 2;
        string[] only = Array.Empty<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--seconds" && i + 1 < args.Length)
                seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--only" && i + 1 < args.Length)
                only = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries);
            else
            {
                Console.Error.WriteLine($"flows: unknown option {args[i]}; use --seconds S and --only name,name");
                return 1;
            }
        }
        var runner = ShardRunner.Shared;
        foreach (var shape in FlowShape.All.Where(s => only.Length == 0 || only.Contains(s.Name)))
        {
            var flow = NormalizingFlow.Create(shape.SpecJson, shape.Features, contextFeatures: 0, seed: 1);
            var data = GaussianRows(DataRows, shape.Features, seed: 2);
            var step = new ShardedTrainingStep(flow, data, DataRows, Batch, runner);
            double trainCalls = CallsPerSecond(step.Run, seconds);
            if (!double.IsFinite(step.LastLoss))
                throw new InvalidOperationException($"{shape.Name}: training diverged (loss {step.LastLoss}).");

            var x = data.AsSpan(0, Batch * shape.Features).ToArray();
            var logProb = new float[Batch];
            double scoreCalls = CallsPerSecond(() => flow.LogProb(x, Batch, ReadOnlySpan<float>.Empty, logProb), seconds);
            double latency = MedianLatencyMicroseconds(flow, x.AsSpan(0, shape.Features).ToArray(), seconds / 2);

            Emit(shape.Name, "train_samples_per_s", trainCalls * Batch, "samples/s", step.Shards);
            Emit(shape.Name, "score_rows_per_s", scoreCalls * Batch, "rows/s", runner.Degree);
            Emit(shape.Name, "latency_us", latency, "us", 1);
        }
        return 0;
    }

    /// <summary>Calls per second of <paramref name="call"/> over at least <paramref name="seconds"/> after 3 warm-up calls (torch_bench.py's <c>timed</c>).</summary>
    private static double CallsPerSecond(Action call, double seconds)
    {
        // A longer warm-up than torch's: tiered JIT recompiles hot methods after ~30 calls, and the figure should be the steady state.
        long warmupEnd = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2;
        for (int i = 0; i < 3 || Stopwatch.GetTimestamp() < warmupEnd; i++)
            call();
        long start = Stopwatch.GetTimestamp();
        for (long n = 1; ; n++)
        {
            call();
            double elapsed = Stopwatch.GetElapsedTime(start).TotalSeconds;
            if (elapsed >= seconds)
                return n / elapsed;
        }
    }

    /// <summary>Median time of LogProb on one row, over at least 50 calls and <paramref name="seconds"/> after 20 warm-up calls (torch_bench.py's <c>latency</c>).</summary>
    private static double MedianLatencyMicroseconds(NormalizingFlow flow, float[] row, double seconds)
    {
        var logProb = new float[1];
        long warmupEnd = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 2;
        for (int i = 0; i < 20 || Stopwatch.GetTimestamp() < warmupEnd; i++)
            flow.LogProb(row, 1, ReadOnlySpan<float>.Empty, logProb);
        var samples = new List<double>();
        long deadline = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        while (Stopwatch.GetTimestamp() < deadline || samples.Count < 50)
        {
            long t = Stopwatch.GetTimestamp();
            flow.LogProb(row, 1, ReadOnlySpan<float>.Empty, logProb);
            samples.Add(Stopwatch.GetElapsedTime(t).TotalMicroseconds);
        }
        samples.Sort();
        return samples[samples.Count / 2];
    }

    /// <summary>Standard-normal rows from a seeded generator (the data's distribution does not change the work a step does).</summary>
    private static float[] GaussianRows(int rows, int features, int seed)
    {
        var random = new Random(seed);
        var data = new float[rows * features];
        for (int i = 0; i < data.Length; i++)
            data[i] = (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        return data;
    }

    private static void Emit(string bench, string metric, double value, string unit, int threads)
    {
        var line = new Dictionary<string, object>
        {
            ["bench"] = bench,
            ["metric"] = metric,
            ["value"] = Math.Round(value, 1),
            ["unit"] = unit,
            ["threads"] = threads,
            ["impl"] = "FlowService " + (Environment.GetEnvironmentVariable("FLOWSERVICE_GEMM") ?? "managed") + " GEMM",
        };
        Console.WriteLine(JsonSerializer.Serialize(line));
    }
}
