using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Bench;

/// <summary>
/// The reverse-KL goals of issue 15: fits built-in targets with known log Z (Gaussian mixtures, Neal's funnel) in
/// 2, 5 and 10 dimensions through <see cref="NormalizingFlowEngine.FitTarget"/> (the job's code path) and prints,
/// per target, log Ẑ ± its standard error against the true log Z, the normalized ESS and the mixture modes found,
/// measured on the final 16,384 fresh samples of the best weights. One JSON object per line.
/// </summary>
internal static class ReverseKlBenchmark
{
    private static readonly (string Name, string Target)[] Cases =
    [
        ("mixture4_d2", """{"name": "gaussianMixture", "dimensions": 2}"""),
        ("mixture4_d5", """{"name": "gaussianMixture", "dimensions": 5}"""),
        ("mixture4_d10", """{"name": "gaussianMixture", "dimensions": 10}"""),
        ("mixture8_r5_d10", """{"name": "gaussianMixture", "dimensions": 10, "parameters": {"components": 8, "radius": 5}}"""),
        ("funnel_d2", """{"name": "funnel", "dimensions": 2}"""),
        ("funnel_d5", """{"name": "funnel", "dimensions": 5}"""),
        ("funnel_d10", """{"name": "funnel", "dimensions": 10}"""),
    ];

    public static int Run(string[] args)
    {
        // A wide scale clamp lets one affine coupling express the funnel's x_i = z_i · e^{x0/2} down to x0 ≈ -12.
        string flow = """{"type": "realnvp", "layers": 8, "hidden": [64, 64], "scaleClamp": 8}""";
        int epochs = 30, steps = 100, batch = 512;
        double learningRate = 1e-3;
        string[] only = [];
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--flow" when i + 1 < args.Length: flow = args[++i]; break;
                case "--epochs" when i + 1 < args.Length: epochs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--steps" when i + 1 < args.Length: steps = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--batch" when i + 1 < args.Length: batch = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--lr" when i + 1 < args.Length: learningRate = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--only" when i + 1 < args.Length: only = args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries); break;
                default:
                    Console.Error.WriteLine($"reverse-kl: unknown option {args[i]}; use --flow JSON --epochs N --steps N --batch N --lr X --only name,name");
                    return 1;
            }
        }
        var engine = new NormalizingFlowEngine();
        var parameters = new TrainingParameters { Epochs = epochs, BatchSize = batch, LearningRate = learningRate, Patience = epochs, Seed = 1 };
        foreach (var (name, targetJson) in Cases.Where(c => only.Length == 0 || only.Contains(c.Name)))
        {
            var node = System.Text.Json.Nodes.JsonNode.Parse(targetJson)!.AsObject();
            node["stepsPerEpoch"] = steps;
            var target = JsonDocument.Parse(node.ToJsonString()).RootElement;
            string state = Path.Combine(Path.GetTempPath(), $"flowservice-reverse-kl-{Guid.NewGuid():N}");
            long started = Stopwatch.GetTimestamp();
            try
            {
                var outcome = engine.FitTarget(new TargetFitRun(JsonDocument.Parse(flow).RootElement, target, parameters, state), new Silent(), CancellationToken.None);
                var fit = outcome.Fit;
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    bench = name, flow, epochs = outcome.EpochsRun, bestEpoch = outcome.BestEpoch, steps, batch,
                    logZ = Math.Round(fit.LogZ, 4), logZStandardError = Math.Round(fit.LogZStandardError, 4), knownLogZ = Math.Round(fit.KnownLogZ ?? double.NaN, 4),
                    error = Math.Round(fit.LogZ - (fit.KnownLogZ ?? double.NaN), 4), ess = Math.Round(fit.EffectiveSampleSize, 4),
                    reverseKl = Math.Round(fit.ReverseKl, 4), modesFound = fit.ModesFound, modes = fit.Modes, samples = fit.Samples,
                    seconds = Math.Round(Stopwatch.GetElapsedTime(started).TotalSeconds, 1),
                }));
            }
            finally
            {
                if (Directory.Exists(state))
                    Directory.Delete(state, recursive: true);
            }
        }
        return 0;
    }

    private sealed class Silent : ITrainingObserver
    {
        public void Resumed(int completedEpochs)
        {
        }

        public void EpochFinished(EpochRecord epoch)
        {
        }
    }
}
