using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowService.Model.Flows;
using FlowService.Training.Engine;
using FlowService.Training.Images;
using FlowService.Training.Jobs;

namespace FlowService.Bench;

/// <summary>
/// The engine's side of the Fashion-MNIST measurement (bench/torch_images.py is PyTorch's, with the
/// same architecture, data, noise and budget): trains a multi-scale image flow on the first --train
/// training images (dequantized, Adam, constant rate, clip 5) for --epochs, then reports test
/// bits/dim (one seeded uniform-noise draw per test image), the per-pixel independent histogram
/// model's bits/dim (add-one smoothing, fitted on the same training images), the AUROC of log p
/// between test images and uniform-noise images, training and scoring images/s, and writes a PNG
/// grid of samples. Prints one JSON object per line.
/// </summary>
internal static class ImageBenchmark
{
    internal const string DefaultSpec = """{"type":"realnvp","image":[1,28,28],"levels":2,"steps":2,"channels":32,"blocks":1,"inputNorm":true}""";

    public static int Run(string[] args)
    {
        string data = "/usr/share/datasets/fashion-mnist", spec = DefaultSpec, png = "";
        string schedule = "constant";
        int train = 10_000, test = 10_000, epochs = 1, batch = 256, noiseImages = 1000, samples = 64, warmup = 0, seed = 1;
        double learningRate = 1e-3;
        float temperature = 0.7f;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            string value = args[i + 1];
            switch (args[i])
            {
                case "--data": data = value; break;
                case "--spec": spec = value; break;
                case "--png": png = value; break;
                case "--train": train = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--test": test = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--epochs": epochs = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--batch": batch = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--schedule": schedule = value; break;
                case "--warmup": warmup = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--lr": learningRate = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--temperature": temperature = float.Parse(value, CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"images: unknown option {args[i]}");
                    return 1;
            }
        }
        var (trainImages, d) = Load(Path.Combine(data, "train-images-idx3-ubyte.gz"), train + 1000);
        var (testImages, _) = Load(Path.Combine(data, "t10k-images-idx3-ubyte.gz"), test);
        var trainPart = new DatasetSplit.Part(trainImages[..(train * d)], [], train);
        var validation = new DatasetSplit.Part(trainImages[(train * d)..], [], 1000);

        var flow = NormalizingFlow.Create(spec, d, 0, seed);
        var parameters = new TrainingParameters { Epochs = epochs, BatchSize = batch, LearningRate = learningRate, Schedule = schedule, WarmupSteps = warmup,
            Patience = epochs, Seed = seed };
        var observer = new EpochLog();
        var result = new FlowTrainer(flow, parameters, dequantize: true).Train(trainPart, validation, observer, null, "bench", CancellationToken.None);
        flow.SetParameters(result.BestParameters);
        foreach (var epoch in observer.Epochs)
            Emit("train_images_per_s", epoch.SamplesPerSecond, "images/s", $"epoch {epoch.Epoch}, train NLL {BitsPerDim.FromLogProb(-epoch.TrainNll, d):F4} bits/dim");

        var noisyTest = (float[])testImages.Clone();
        UniformDequantization.AddNoise(noisyTest, new Random(123));
        var logProb = new float[test];
        long started = Stopwatch.GetTimestamp();
        flow.LogProb(noisyTest, test, [], logProb);
        double scoreSeconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        double bitsPerDim = logProb.Average(lp => BitsPerDim.FromLogProb(lp, d));
        Emit("test_bits_per_dim", bitsPerDim, "bits/dim", $"{test} test images, one uniform-noise draw each (seed 123)");
        Emit("score_images_per_s", test / scoreSeconds, "images/s", $"log p of {test} images in one call (split over the cores, in chunks of up to {NormalizingFlow.ChunkRowsFor(d)})");
        Emit("histogram_bits_per_dim", HistogramBitsPerDim(trainImages.AsSpan(0, train * d), testImages, d), "bits/dim", "per-pixel independent 256-bin histogram, add-one smoothing");

        var noise = new float[noiseImages * d];
        var random = new Random(7);
        for (int i = 0; i < noise.Length; i++)
            noise[i] = random.Next(256) + random.NextSingle();
        var noiseLogProb = new float[noiseImages];
        flow.LogProb(noise, noiseImages, [], noiseLogProb);
        Emit("uniform_noise_auroc", Auroc(logProb[..Math.Min(test, noiseImages)], noiseLogProb), "", $"log p of {Math.Min(test, noiseImages)} test vs {noiseImages} uniform-noise images");

        if (png.Length > 0)
        {
            var x = new float[samples * d];
            flow.Sample(samples, seed: 5, temperature, [], x);
            var pixels = x.Select(v => (byte)Math.Clamp(MathF.Floor(v), 0f, 255f)).ToArray();
            File.WriteAllBytes(png, PngGrid.Encode(pixels, samples, 1, 28, 28));
            Emit("samples_png_bytes", new FileInfo(png).Length, "bytes", $"{samples} samples at temperature {temperature} -> {png}");
        }
        return 0;
    }

    /// <summary>The first <paramref name="count"/> images of an IDX file as float pixel values, and D.</summary>
    private static (float[] Images, int Features) Load(string path, int count)
    {
        var (shape, values) = IdxFormat.Read(File.ReadAllBytes(path), 1L << 30);
        int d = shape[1] * shape[2];
        if (count > shape[0])
            throw new ArgumentException($"{path} has {shape[0]} images, not {count}.");
        return (values.AsSpan(0, count * d).ToArray().Select(b => (float)b).ToArray(), d);
    }

    /// <summary>-mean log₂ P(x) / D of the discrete per-pixel model P_j(v) = (count_j(v) + 1) / (N + 256).</summary>
    private static double HistogramBitsPerDim(ReadOnlySpan<float> train, float[] test, int d)
    {
        int n = train.Length / d;
        var counts = new int[d, 256];
        for (int i = 0; i < train.Length; i++)
            counts[i % d, (int)train[i]]++;
        double bits = 0;
        for (int i = 0; i < test.Length; i++)
            bits -= Math.Log2((counts[i % d, (int)test[i]] + 1.0) / (n + 256.0));
        return bits / test.Length;
    }

    /// <summary>P(score of a positive &gt; score of a negative), ties counted half (Mann-Whitney).</summary>
    private static double Auroc(float[] positives, float[] negatives)
    {
        double wins = 0;
        foreach (float p in positives)
            foreach (float q in negatives)
                wins += p > q ? 1 : p == q ? 0.5 : 0;
        return wins / ((double)positives.Length * negatives.Length);
    }

    private static void Emit(string metric, double value, string unit, string note) =>
        Console.WriteLine(JsonSerializer.Serialize(new { bench = "fashion_mnist", impl = "flowservice", metric, value, unit, note }));

    private sealed class EpochLog : ITrainingObserver
    {
        public List<EpochRecord> Epochs { get; } = [];

        public void Resumed(int completedEpochs)
        {
        }

        public void EpochFinished(EpochRecord epoch) => Epochs.Add(epoch);
    }
}
