using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using FlowService.Model.Flows;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Bench;

/// <summary>
/// Held-out bits/dim on sklearn's digits (1,797 8x8 images, 17 grey levels, from Debian's python3-sklearn at run time;
/// nothing is stored in the repository), uniformly dequantized (x + u, u ~ U[0, 1)^64, seeded), for the logistic-mixture
/// CDF coupling ("flowpp") against the affine coupling ("realnvp") at equal parameter count: the RealNVP hidden width is
/// chosen so that its parameter count is the closest to the Flow++ flow's. Both train through the service's engine
/// (<see cref="NormalizingFlowEngine"/>: standardization, AdamW, cosine schedule, clipping, early stopping on the
/// validation rows). bits/dim = test NLL / (64 ln 2) in units of grey levels: the uniform-dequantization bound on the
/// discrete data's code length. One JSON object per line.
/// </summary>
internal static class DigitsBenchmark
{
    private const int Features = 64;

    public static int Run(string[] args)
    {
        int epochs = 100, hidden = 64, components = 4, layers = 8, seeds = 1;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--epochs" when i + 1 < args.Length: epochs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--hidden" when i + 1 < args.Length: hidden = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--components" when i + 1 < args.Length: components = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--layers" when i + 1 < args.Length: layers = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--seeds" when i + 1 < args.Length: seeds = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"digits: unknown option {args[i]}; use --epochs N --hidden H --components K --layers L --seeds S");
                    return 1;
            }
        }
        float[] images = LoadDigits();
        int rows = images.Length / Features;
        string flowpp = $$"""{"type":"flowpp","layers":{{layers}},"hidden":[{{hidden}},{{hidden}}],"components":{{components}}}""";
        int target = NormalizingFlow.Create(flowpp, Features, 0, seed: 1).Layout.Slots.Sum(s => s.Rows * s.Cols);
        int width = Enumerable.Range(8, 1024).MinBy(h => Math.Abs(Count($$"""{"type":"realnvp","layers":{{layers}},"hidden":[{{h}},{{h}}]}""") - target));
        string realnvp = $$"""{"type":"realnvp","layers":{{layers}},"hidden":[{{width}},{{width}}]}""";
        for (int seed = 1; seed <= seeds; seed++)
        {
            var split = Split(images, rows, seed);
            foreach (string spec in new[] { flowpp, realnvp })
            {
                var parameters = new TrainingParameters { Epochs = epochs, BatchSize = 128, LearningRate = 1e-3, Patience = 20, Seed = seed };
                string state = Path.Combine(Path.GetTempPath(), $"flowservice-digits-{Guid.NewGuid():N}");
                var started = Stopwatch.StartNew();
                try
                {
                    var outcome = new NormalizingFlowEngine().Train(new TrainingRun(JsonDocument.Parse(spec).RootElement.Clone(), split, parameters, state),
                        new Silent(), CancellationToken.None);
                    var logProb = new float[split.Test.Rows];
                    outcome.Flow.LogProb(split.Test.Features, split.Test.Rows, [], logProb);
                    double nll = -logProb.Average(v => (double)v);
                    Console.WriteLine(JsonSerializer.Serialize(new
                    {
                        bench = "digits", spec, parameters = Count(spec), seed, epochs = outcome.EpochsRun, bestEpoch = outcome.BestEpoch,
                        testNll = Math.Round(nll, 3), bitsPerDim = Math.Round(nll / (Features * Math.Log(2)), 4),
                        seconds = Math.Round(started.Elapsed.TotalSeconds, 1),
                    }));
                }
                finally
                {
                    if (Directory.Exists(state))
                        Directory.Delete(state, recursive: true);
                }
            }
        }
        return 0;
    }

    /// <summary>
    /// Uniform against variational dequantization at the same budget (same p, epochs, batches, learning rate; q a small
    /// conditional generative RealNVP): the held-out bound -E[log p(k + u) - log q(u | k)] in bits/dim, 4 draws of u per row.
    /// </summary>
    public static int RunDequantization(string[] args)
    {
        int epochs = 40;
        string model = """{"type":"realnvp","layers":8,"hidden":[128,128]}""";
        string dequantizer = """{"type":"realnvp","layers":4,"hidden":[64,64]}""";
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--epochs" when i + 1 < args.Length: epochs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--model" when i + 1 < args.Length: model = args[++i]; break;
                case "--dequantizer" when i + 1 < args.Length: dequantizer = args[++i]; break;
                default:
                    Console.Error.WriteLine($"digits-dequantization: unknown option {args[i]}; use --epochs N --model SPEC --dequantizer SPEC");
                    return 1;
            }
        }
        float[] images = LoadDigits();
        int rows = images.Length / Features;
        var random = new Random(1);
        var order = Enumerable.Range(0, rows).OrderBy(_ => random.Next()).ToArray();
        var levels = order.SelectMany(r => images.AsSpan(r * Features, Features).ToArray()).ToArray();
        int train = rows * 7 / 10, validation = rows / 10, test = rows - train - validation;
        float[] Part(int start, int count) => levels.AsSpan(start * Features, count * Features).ToArray();
        var (trainRows, validationRows, testRows) = (Part(0, train), Part(train, validation), Part(train + validation, test));
        var normalization = Model.Transforms.Standardization.Fit(trainRows.Select(v => v + 0.5f).ToArray(), Features);
        var parameters = new TrainingParameters { Epochs = epochs, BatchSize = 128, LearningRate = 1e-3, Patience = 20, Seed = 1 };
        foreach (bool variational in new[] { false, true })
        {
            var p = NormalizingFlow.Create(model, Features, 0, seed: 1, normalization);
            var q = variational ? NormalizingFlow.Create(FlowSpec.Parse(dequantizer), Features, Features, seed: 2, generative: true) : null;
            var trainer = new DequantizationTrainer(p, q, parameters);
            var started = Stopwatch.StartNew();
            var result = trainer.Train(trainRows, train, validationRows, validation, CancellationToken.None);
            double bound = trainer.Bound(testRows, test, draws: 4, seed: 12345);
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = "digits-dequantization", dequantization = variational ? "variational" : "uniform", model, dequantizer = variational ? dequantizer : null,
                parameters = Count(model) + (variational ? q!.Layout.Slots.Sum(s => s.Rows * s.Cols) : 0), epochs = result.EpochsRun, bestEpoch = result.BestEpoch,
                testBoundNats = Math.Round(bound, 3), bitsPerDim = Math.Round(bound / (Features * Math.Log(2)), 4), seconds = Math.Round(started.Elapsed.TotalSeconds, 1),
            }));
        }
        return 0;
    }

    private static int Count(string spec) => NormalizingFlow.Create(spec, Features, 0, seed: 1).Layout.Slots.Sum(s => s.Rows * s.Cols);

    /// <summary>Shuffled (seeded) 70/10/20 split, each image dequantized once with its own uniform noise.</summary>
    private static DatasetSplit Split(float[] images, int rows, int seed)
    {
        var random = new Random(seed);
        var order = Enumerable.Range(0, rows).OrderBy(_ => random.Next()).ToArray();
        var data = new float[images.Length];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < Features; j++)
                data[r * Features + j] = images[order[r] * Features + j] + (float)random.NextDouble();
        int train = rows * 7 / 10, validation = rows / 10, test = rows - train - validation;
        DatasetSplit.Part Take(int start, int count) => new(data.AsSpan(start * Features, count * Features).ToArray(), [], count);
        return new DatasetSplit
        {
            Train = Take(0, train),
            Validation = Take(train, validation),
            Test = Take(train + validation, test),
            FeatureColumns = Enumerable.Range(0, Features).Select(j => $"x{j}").ToArray(),
            ContextColumns = [],
        };
    }

    /// <summary>sklearn.datasets.load_digits() through Debian's python3-sklearn, as float32 rows of 64 grey levels 0..16.</summary>
    private static float[] LoadDigits()
    {
        string path = Path.Combine(Path.GetTempPath(), $"flowservice-digits-{Guid.NewGuid():N}.f32");
        var python = Process.Start(new ProcessStartInfo("/usr/bin/python3",
            ["-c", "import sys, numpy; from sklearn.datasets import load_digits; load_digits().data.astype(numpy.float32).tofile(sys.argv[1])", path])
            { RedirectStandardError = true })!;
        string error = python.StandardError.ReadToEnd();
        python.WaitForExit();
        if (python.ExitCode != 0)
            throw new InvalidOperationException($"Loading sklearn's digits failed (python3-sklearn installed?): {error}");
        try
        {
            return MemoryMarshal.Cast<byte, float>(File.ReadAllBytes(path)).ToArray();
        }
        finally
        {
            File.Delete(path);
        }
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
