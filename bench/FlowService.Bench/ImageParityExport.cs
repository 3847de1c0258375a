using System.Globalization;
using FlowService.Model.Checkpoints;
using FlowService.Model.Flows;
using FlowService.Training.Engine;
using FlowService.Training.Images;
using FlowService.Training.Jobs;
using FlowService.Training.Optimization;

namespace FlowService.Bench;

/// <summary>
/// The engine's half of a step-by-step parity run against bench/torch_image_parity.py: trains
/// <see cref="ImageBenchmark"/>'s flow for --steps batches exactly as <see cref="FlowTrainer"/> does (its
/// initialisation rows and noise, seeded shuffle, per-batch noise, sharded mean-NLL gradient, clip 5, Adam at a
/// constant rate, or with --schedule cosine [--warmup W] FlowTrainer's cosine schedule over the --steps) and writes
/// to one safetensors file what PyTorch needs to replay the identical computation and what to compare it with: the
/// initialisation rows as dequantized, the parameters before and after the data initialisation, every batch as fed
/// (dequantized), the loss, gradient norm and clip factor per step, the whole gradient of the first step, and the
/// parameters after chosen steps. It then checks that this replica of the
/// trainer's loop is the trainer's: <see cref="FlowTrainer.Train"/> on the same rows must end at the same
/// parameters, bit for bit.
/// </summary>
internal static class ImageParityExport
{
    /// <remarks>
    /// --perturb S nudges every starting weight by a relative ±1e-6 (signs from seed S) and skips the check.
    /// --start FILE starts from the final weights of an earlier export (its <c>after{steps}.</c> tensors) instead of a
    /// fresh, data-initialised flow, and skips the check (FlowTrainer always starts fresh): a replay of the next steps
    /// then compares the two sides' computation where training has taken the weights, not only at the start.
    /// </remarks>
    public static int Run(string[] args)
    {
        string data = "/usr/share/datasets/fashion-mnist", spec = ImageBenchmark.DefaultSpec, output = "bench/out/image-parity.safetensors";
        int steps = 20, batch = 64, seed = 1, perturb = 0, warmup = 0;
        string schedule = "constant";
        string? start = null;
        bool verify = true;
        double learningRate = 1e-3;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            string value = args[i + 1];
            switch (args[i])
            {
                case "--steps": steps = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--batch": batch = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--seed": seed = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--lr": learningRate = double.Parse(value, CultureInfo.InvariantCulture); break;
                case "--spec": spec = value; break;
                case "--schedule": schedule = value; break;
                case "--start": start = value; break;
                case "--warmup": warmup = int.Parse(value, CultureInfo.InvariantCulture); break;
                case "--out": output = value; break;
                case "--verify": verify = value != "false"; break;
                case "--perturb": perturb = int.Parse(value, CultureInfo.InvariantCulture); break;
                default:
                    Console.Error.WriteLine($"image-parity: unknown option {args[i]}");
                    return 1;
            }
        }
        int train = steps * batch;
        var (shape, pixels) = IdxFormat.Read(File.ReadAllBytes(Path.Combine(data, "train-images-idx3-ubyte.gz")), 1L << 30);
        int d = shape[1] * shape[2];
        var images = pixels.AsSpan(0, Math.Max(train, FlowTrainer.InitializationRows) * d).ToArray().Select(b => (float)b).ToArray();
        var parameters = new TrainingParameters { Epochs = 1, BatchSize = batch, LearningRate = learningRate, Schedule = schedule, WarmupSteps = warmup, Patience = 1, Seed = seed };
        // The rate per step as FlowTrainer computes it (one epoch of --steps batches).
        var rates = FlowTrainer.Schedule(parameters, steps);
        var tensors = new List<SafeTensor>();

        var flow = NormalizingFlow.Create(spec, d, 0, seed);
        tensors.AddRange(Named(flow, "init.", flow.GetParameters()));
        // FlowTrainer's initialisation: the first InitializationRows training rows (of the training part), dequantized.
        int initRows = Math.Min(FlowTrainer.InitializationRows, train);
        var initial = images.AsSpan(0, initRows * d).ToArray();
        UniformDequantization.AddNoise(initial, new Random(unchecked(seed * 1_000_003 - 1)));
        if (start is null)
            flow.InitializeFromData(initial, initRows, []);
        else
        {
            flow.SetParameters(TrainedWeights(flow, start));
            verify = false;
        }
        tensors.Add(new SafeTensor("init_rows", [initRows, d], initial));
        if (perturb != 0)
        {
            // The engine against itself: every starting weight nudged by a relative ±1e-6 (about the float32 rounding gap
            // between the two sides' first gradients, 1e-5) shows how far rounding alone carries the same run.
            var nudged = flow.GetParameters();
            var random = new Random(perturb);
            for (int i = 0; i < nudged.Length; i++)
                nudged[i] *= 1f + (random.Next(2) * 2 - 1) * 1e-6f;
            flow.SetParameters(nudged);
            verify = false;
        }
        tensors.AddRange(Named(flow, "start.", flow.GetParameters()));

        var optimizer = new AdamW(flow.Backend, flow.Parameters.Length, new AdamWOptions());
        var gradient = new ShardedGradient(flow);
        var order = SeededShuffle.ForEpoch(train, seed, 1);
        var x = new float[batch * d];
        var batches = new float[steps * batch * d];
        var losses = new float[steps];
        var norms = new float[steps];
        var clips = new float[steps];
        var saved = new HashSet<int> { 1, 2, 5, 10, steps };
        for (int step = 0; step < steps; step++)
        {
            for (int r = 0; r < batch; r++)
                images.AsSpan(order[step * batch + r] * d, d).CopyTo(x.AsSpan(r * d, d));
            UniformDequantization.AddNoise(x, new Random(unchecked(seed * 1_000_003 + 1 * 65_537 + step)));
            x.CopyTo(batches.AsSpan(step * batch * d));
            double nll = gradient.Compute(x, [], batch);
            double norm = GradientClipping.GlobalNorm(flow.Backend, gradient.Gradient);
            float scale = GradientClipping.Coefficient(norm, parameters.GradClip);
            if (step == 0)
            {
                var g = new float[flow.Parameters.Length];
                flow.Backend.Download(gradient.Gradient, g);
                tensors.AddRange(Named(flow, "grad0.", g));
            }
            optimizer.Update(flow.Parameters, gradient.Gradient, rates.At(step), scale);
            (losses[step], norms[step], clips[step]) = ((float)(nll / batch), (float)norm, scale);
            if (saved.Contains(step + 1))
                tensors.AddRange(Named(flow, $"after{step + 1}.", flow.GetParameters()));
            Console.WriteLine($"step {step + 1}: loss {nll / batch:F4} nats ({BitsPerDim.FromLogProb(-nll / batch, d):F4} bits/dim), grad norm {norm:F4}, clip {scale:F4}");
        }
        tensors.Add(new SafeTensor("batches", [steps, batch, d], batches));
        tensors.Add(new SafeTensor("loss", [steps], losses));
        tensors.Add(new SafeTensor("grad_norm", [steps], norms));
        tensors.Add(new SafeTensor("clip", [steps], clips));

        // The replica above must be the trainer's loop: the same rows through FlowTrainer end at the same weights.
        int differing = verify ? Verify(images, train, spec, d, seed, parameters, flow.GetParameters()) : -1;
        Console.WriteLine(verify ? $"replica vs FlowTrainer.Train after {steps} steps: {differing} of {flow.Layout.Length} parameters differ" : "replica not verified");

        var metadata = new Dictionary<string, string>
        {
            ["spec"] = spec, ["steps"] = steps.ToString(CultureInfo.InvariantCulture), ["batch"] = batch.ToString(CultureInfo.InvariantCulture),
            ["seed"] = seed.ToString(CultureInfo.InvariantCulture), ["lr"] = learningRate.ToString("R", CultureInfo.InvariantCulture),
            ["schedule"] = schedule, ["warmup"] = warmup.ToString(CultureInfo.InvariantCulture),
            ["saved"] = string.Join(",", saved.Order()), ["replicaDiffers"] = differing.ToString(CultureInfo.InvariantCulture),
            ["perturb"] = perturb.ToString(CultureInfo.InvariantCulture), ["start"] = start ?? "",
        };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(output))!);
        using (var stream = File.Create(output))
            SafeTensorsWriter.Write(stream, new SafeTensorsFile(tensors, metadata));
        Console.WriteLine($"wrote {output}");
        return differing <= 0 ? 0 : 2;
    }

    /// <summary>How many of <paramref name="replica"/>'s parameters differ from <see cref="FlowTrainer.Train"/>'s on the same rows.</summary>
    private static int Verify(float[] images, int train, string spec, int d, int seed, TrainingParameters parameters, float[] replica)
    {
        var reference = NormalizingFlow.Create(spec, d, 0, seed);
        var part = new DatasetSplit.Part(images[..(train * d)], [], train);
        var validation = new DatasetSplit.Part(images[..(parameters.BatchSize * d)], [], parameters.BatchSize);
        new FlowTrainer(reference, parameters, dequantize: true).Train(part, validation, new NullObserver(), null, "parity", CancellationToken.None);
        var trained = reference.GetParameters();
        return replica.Zip(trained).Count(p => BitConverter.SingleToInt32Bits(p.First) != BitConverter.SingleToInt32Bits(p.Second));
    }

    /// <summary>The final weights of an earlier export, as an arena in <paramref name="flow"/>'s layout.</summary>
    private static float[] TrainedWeights(NormalizingFlow flow, string path)
    {
        var file = SafeTensorsReader.Read(path);
        string prefix = $"after{file.Metadata["steps"]}.";
        var arena = new float[flow.Layout.Length];
        foreach (var slot in flow.Layout.Slots)
        {
            var values = file[prefix + slot.Name].Values;
            if (values.Length != slot.Length)
                throw new InvalidDataException($"{path}: {prefix + slot.Name} has {values.Length} values, the flow's slot {slot.Length}.");
            values.CopyTo(arena.AsSpan(slot.Offset));
        }
        return arena;
    }

    /// <summary>Every parameter of <paramref name="values"/> (an arena in the flow's layout) as its own tensor, prefixed.</summary>
    private static IEnumerable<SafeTensor> Named(NormalizingFlow flow, string prefix, float[] values) =>
        flow.Layout.Slots.Select(slot => new SafeTensor(prefix + slot.Name, [slot.Rows, slot.Cols], values.AsSpan(slot.Offset, slot.Length).ToArray()));

    private sealed class NullObserver : ITrainingObserver
    {
        public void Resumed(int completedEpochs)
        {
        }

        public void EpochFinished(EpochRecord epoch)
        {
        }
    }
}
