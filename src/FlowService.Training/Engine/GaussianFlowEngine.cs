using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using FlowService.Training.Jobs;
using FlowService.Training.Storage;

namespace FlowService.Training.Engine;

/// <summary>
/// Trains and stores <see cref="GaussianFlow"/> (spec <c>{"type": "gaussian"}</c>): maximum likelihood by
/// mini-batch AdamW on the exact NLL, seeded shuffling (seed + epoch, so a resumed run shuffles as an
/// uninterrupted one), gradient clipping by global norm, early stopping on validation NLL with the best
/// weights kept, and an atomic state file every epoch from which a killed run resumes.
/// </summary>
public sealed class GaussianFlowEngine : IFlowEngine
{
    public const string Type = "gaussian";
    const string StateFile = "state.json";
    const string ModelFile = "model.json";

    sealed record State(int Epoch, double[] Parameters, double[] AdamM, double[] AdamV, long Step, double[] Best, double BestValidation, int BestEpoch, int BadEpochs);

    sealed record Checkpoint(string Format, JsonElement Spec, double[] ColumnMean, double[] ColumnStd, double[] Parameters);

    public IReadOnlyCollection<string> Types { get; } = [Type];

    public (string Field, string Message)? Validate(JsonElement spec, int features, int contextFeatures)
    {
        foreach (var property in spec.EnumerateObject())
            if (property.Name != "type")
                return ($"flow.{property.Name}", $"Flow type 'gaussian' has no field '{property.Name}'; its only field is \"type\".");
        if (contextFeatures > 0)
            return ("contextColumns", "Flow type 'gaussian' is unconditional; it takes no context columns.");
        return null;
    }

    public TrainingOutcome Train(TrainingRun run, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var p = run.Parameters;
        var train = run.Data.Train;
        int d = run.Data.FeatureColumns.Count;
        var (mean, std) = Standardize(train.Features, train.Rows, d, run.Data.FeatureColumns);
        var u = new float[train.Features.Length];
        for (int i = 0; i < u.Length; i++)
            u[i] = (float)((train.Features[i] - mean[i % d]) / std[i % d]);
        double logStd = std.Sum(Math.Log);

        string statePath = Path.Combine(run.StateFolder, StateFile);
        var state = File.Exists(statePath) ? StoreJson.Deserialize<State>(File.ReadAllText(statePath)) : null;
        int count = GaussianFlow.ParameterCount(d);
        if (state is not null && state.Parameters.Length == count)
            observer.Resumed(state.Epoch);
        else
            state = new State(0, new double[count], new double[count], new double[count], 0, new double[count], double.PositiveInfinity, 0, 0);

        double[] theta = state.Parameters, m = state.AdamM, v = state.AdamV, best = state.Best;
        long step = state.Step;
        double bestValidation = state.BestValidation;
        int bestEpoch = state.BestEpoch, badEpochs = state.BadEpochs, epoch = state.Epoch;
        var gradient = new double[count];
        var order = new int[train.Rows];
        var batch = new float[Math.Min(p.BatchSize, train.Rows) * d];

        while (epoch < p.Epochs && badEpochs < p.Patience)
        {
            epoch++;
            var clock = Stopwatch.StartNew();
            for (int i = 0; i < order.Length; i++)
                order[i] = i;
            new Random(p.Seed + epoch).Shuffle(order);
            double sumNll = 0;
            for (int start = 0; start < train.Rows; start += p.BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int rows = Math.Min(p.BatchSize, train.Rows - start);
                for (int r = 0; r < rows; r++)
                    u.AsSpan(order[start + r] * d, d).CopyTo(batch.AsSpan(r * d, d));
                Array.Clear(gradient);
                double nll = GaussianFlow.AccumulateGradient(theta, d, batch.AsSpan(0, rows * d), rows, gradient);
                if (!double.IsFinite(nll) || gradient.Any(g => !double.IsFinite(g)))
                    throw new TrainingDivergedException($"Training diverged in epoch {epoch}: the loss or its gradient became NaN or infinite. Lower the learning rate or set gradClip.");
                sumNll += nll;
                AdamW(theta, gradient, m, v, ++step, rows, p);
            }
            double trainNll = sumNll / train.Rows + logStd;
            var flow = new GaussianFlow(mean, std, theta);
            double validationNll = MeanNll(flow, run.Data.Validation);
            if (!double.IsFinite(validationNll))
                throw new TrainingDivergedException($"Training diverged in epoch {epoch}: the validation NLL became NaN or infinite ({validationNll}). Lower the learning rate or set gradClip.");
            if (validationNll < bestValidation - 1e-9)
            {
                bestValidation = validationNll;
                bestEpoch = epoch;
                badEpochs = 0;
                Array.Copy(theta, best, count);
            }
            else
                badEpochs++;
            double seconds = clock.Elapsed.TotalSeconds;
            var saved = new State(epoch, theta, m, v, step, best, bestValidation, bestEpoch, badEpochs);
            AtomicFile.Write(statePath, s => JsonSerializer.Serialize(s, saved, StoreJson.Options));
            observer.EpochFinished(new EpochRecord(epoch, trainNll, validationNll, train.Rows / Math.Max(seconds, 1e-9), seconds));
        }
        return new TrainingOutcome(new GaussianFlow(mean, std, best), epoch, bestEpoch);
    }

    public string Save(IDensityFlow flow, JsonElement spec, string folder)
    {
        var gaussian = (GaussianFlow)flow;
        byte[] json = JsonSerializer.SerializeToUtf8Bytes(new Checkpoint("flowservice-gaussian-1", spec, gaussian.ColumnMean, gaussian.ColumnStd, gaussian.Parameters), StoreJson.Options);
        AtomicFile.Write(Path.Combine(folder, ModelFile), s => s.Write(json));
        return Convert.ToHexStringLower(SHA256.HashData(json));
    }

    public IDensityFlow Load(string folder)
    {
        var checkpoint = StoreJson.Deserialize<Checkpoint>(File.ReadAllText(Path.Combine(folder, ModelFile)));
        return new GaussianFlow(checkpoint.ColumnMean, checkpoint.ColumnStd, checkpoint.Parameters);
    }

    static double MeanNll(IDensityFlow flow, DatasetSplit.Part part)
    {
        var logProb = new float[part.Rows];
        flow.LogProb(part.Features, part.Rows, part.Context, logProb);
        double sum = 0;
        foreach (float lp in logProb)
            sum -= lp;
        return sum / Math.Max(1, part.Rows);
    }

    static (double[] Mean, double[] Std) Standardize(float[] x, int rows, int d, IReadOnlyList<string> names)
    {
        var mean = new double[d];
        var std = new double[d];
        for (int c = 0; c < d; c++)
        {
            double mu = 0, m2 = 0;
            for (int r = 0; r < rows; r++)
            {
                double value = x[r * d + c], delta = value - mu;
                mu += delta / (r + 1);
                m2 += delta * (value - mu);
            }
            mean[c] = mu;
            std[c] = Math.Sqrt(m2 / rows);
            if (!(std[c] > 1e-12))
                throw new InvalidOperationException($"Column '{names[c]}' is constant in the training split; the flow cannot standardize it.");
        }
        return (mean, std);
    }

    /// <summary>AdamW (β = 0.9, 0.999, ε = 1e-8) on the batch-mean gradient, after clipping its global norm.</summary>
    static void AdamW(double[] theta, double[] sumGradient, double[] m, double[] v, long step, int rows, TrainingParameters p)
    {
        double norm = 0;
        for (int i = 0; i < theta.Length; i++)
        {
            sumGradient[i] /= rows;
            norm += sumGradient[i] * sumGradient[i];
        }
        norm = Math.Sqrt(norm);
        double scale = p.GradClip > 0 && norm > p.GradClip ? p.GradClip / norm : 1;
        double correction1 = 1 - Math.Pow(0.9, step), correction2 = 1 - Math.Pow(0.999, step);
        for (int i = 0; i < theta.Length; i++)
        {
            double g = sumGradient[i] * scale;
            m[i] = 0.9 * m[i] + 0.1 * g;
            v[i] = 0.999 * v[i] + 0.001 * g * g;
            theta[i] -= p.LearningRate * (m[i] / correction1 / (Math.Sqrt(v[i] / correction2) + 1e-8) + p.WeightDecay * theta[i]);
        }
    }
}
