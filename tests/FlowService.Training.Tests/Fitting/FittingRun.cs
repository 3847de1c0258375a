using System.Text.Json;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Fitting;

/// <summary>
/// Trains a flow spec through the service's own engine (<see cref="NormalizingFlowEngine"/>, so
/// <see cref="FlowTrainer"/> with its standardization, schedule, clipping and early stopping) and
/// scores the held-out test rows. The split is contiguous (the first rows train, the next validate,
/// the rest test): the generated rows are i.i.d., and tools/reference/fit_reference.py cuts the same.
/// </summary>
public static class FittingRun
{
    public sealed record Result(float[] TestLogProb, int EpochsRun, int BestEpoch, double Seconds)
    {
        public double TestNll => -TestLogProb.Average(v => (double)v);
    }

    public static DatasetSplit ContiguousSplit(float[] rows, int features, int train, int validation, int test)
    {
        if ((long)(train + validation + test) * features != rows.Length)
            throw new ArgumentException($"{rows.Length / features} rows do not split into {train} + {validation} + {test}.");
        DatasetSplit.Part Take(int start, int count) => new(rows.AsSpan(start * features, count * features).ToArray(), [], count);
        return new DatasetSplit
        {
            Train = Take(0, train),
            Validation = Take(train, validation),
            Test = Take(train + validation, test),
            FeatureColumns = Enumerable.Range(0, features).Select(j => $"x{j}").ToArray(),
            ContextColumns = [],
        };
    }

    public static Result Train(string spec, DatasetSplit split, TrainingParameters parameters, string stateFolder)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var outcome = new NormalizingFlowEngine().Train(
            new TrainingRun(JsonDocument.Parse(spec).RootElement.Clone(), split, parameters, stateFolder),
            NoObserver.Instance, CancellationToken.None);
        var logProb = new float[split.Test.Rows];
        outcome.Flow.LogProb(split.Test.Features, split.Test.Rows, [], logProb);
        return new Result(logProb, outcome.EpochsRun, outcome.BestEpoch, started.Elapsed.TotalSeconds);
    }

    private sealed class NoObserver : ITrainingObserver
    {
        public static readonly NoObserver Instance = new();

        public void Resumed(int completedEpochs)
        {
        }

        public void EpochFinished(EpochRecord epoch)
        {
        }
    }
}
