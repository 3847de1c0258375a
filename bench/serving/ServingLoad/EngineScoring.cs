using System.Diagnostics;
using System.Text.Json;
using FlowService.Training.Engine;

namespace FlowService.ServingLoad;

/// <summary>
/// The in-process reference the HTTP figures are compared with: the same checkpoint loaded by the engine, log p of
/// 1,000-row batches (the engine spreads them over its worker threads) and single-row calls, for a fixed time.
/// </summary>
public static class EngineScoring
{
    public static int Run(string dataPath, string model, double seconds)
    {
        string folder = Path.GetDirectoryName(Directory.GetFiles(Path.Combine(dataPath, "models", model), "model.safetensors", SearchOption.AllDirectories).First())!;
        var flow = new NormalizingFlowEngine().Load(folder);
        int d = flow.Features;
        var random = new Random(3);
        var x = Enumerable.Range(0, 1000 * d).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
        var logProb = new float[1000];

        double batchRowsPerSecond = Rate(() => flow.LogProb(x, 1000, [], logProb), seconds) * 1000;
        double singleCallsPerSecond = Rate(() => flow.LogProb(x.AsSpan(0, d), 1, [], logProb.AsSpan(0, 1)), seconds);
        var row256 = Rate(() => flow.LogProb(x.AsSpan(0, 256 * d), 256, [], logProb.AsSpan(0, 256)), seconds) * 256;
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "engine",
            batch1000RowsPerSecond = batchRowsPerSecond,
            batch256RowsPerSecond = row256,
            singleRowCallsPerSecond = singleCallsPerSecond,
            singleRowMicroseconds = 1e6 / singleCallsPerSecond,
            threads = Environment.GetEnvironmentVariable("FLOWSERVICE_THREADS") ?? Environment.ProcessorCount.ToString(),
        }));
        return 0;
    }

    static double Rate(Action call, double seconds)
    {
        for (int i = 0; i < 20; i++)
            call();
        long n = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            call();
            n++;
        }
        return n / clock.Elapsed.TotalSeconds;
    }
}
