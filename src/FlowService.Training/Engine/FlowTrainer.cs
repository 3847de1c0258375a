using System.Diagnostics;
using FlowService.Model.Flows;
using FlowService.Training.Jobs;
using FlowService.Training.Observability;
using FlowService.Training.Optimization;

namespace FlowService.Training.Engine;

/// <summary>
/// Maximum-likelihood training of a <see cref="NormalizingFlow"/>: mini-batches in a seeded order per
/// epoch (seed + epoch, <see cref="SeededShuffle"/>), the mean-NLL gradient over shards of each batch
/// (<see cref="ShardedGradient"/>), global-norm clipping fused into one AdamW step, a learning-rate
/// schedule indexed by optimizer step, early stopping on the validation NLL with the best weights
/// kept, and a <see cref="TrainingState"/> written after every epoch from which a killed run
/// continues exactly as if it had not stopped.
/// </summary>
public sealed class FlowTrainer
{
    /// <summary>Rows of the training data that Glow's ActNorm layers initialise from (data-dependent init).</summary>
    public const int InitializationRows = 1024;

    private readonly NormalizingFlow _flow;
    private readonly TrainingParameters _parameters;
    private readonly bool _dequantize;

    /// <param name="dequantize">
    /// The rows are discrete pixels: every training batch gets fresh uniform noise
    /// (<see cref="UniformDequantization"/>, seeded by seed, epoch and batch, so a resumed run sees the
    /// same noise), and the validation rows one fixed draw.
    /// </param>
    public FlowTrainer(NormalizingFlow flow, TrainingParameters parameters, bool dequantize = false)
    {
        _flow = flow;
        _parameters = parameters;
        _dequantize = dequantize;
    }

    public sealed record Result(float[] BestParameters, int EpochsRun, int BestEpoch, double BestValidationNll);

    /// <summary>
    /// Trains until the epochs run out or <see cref="TrainingParameters.Patience"/> epochs pass without a
    /// better validation NLL. <paramref name="stateFolder"/> (null: no resumable state) holds the state
    /// of this run; <paramref name="fingerprint"/> identifies the run so that only its own state is resumed.
    /// Throws <see cref="TrainingDivergedException"/> on a NaN or infinite loss or gradient, and
    /// OperationCanceledException between batches when cancelled. With <paramref name="deadlineTimestamp"/>
    /// (a <see cref="Stopwatch"/> timestamp) no epoch starts after it: the "auto" search's time budget.
    /// </summary>
    public Result Train(DatasetSplit.Part train, DatasetSplit.Part validation, ITrainingObserver observer,
        string? stateFolder, string fingerprint, CancellationToken cancellationToken, long? deadlineTimestamp = null)
    {
        var p = _parameters;
        int d = _flow.Features, c = _flow.ContextFeatures, count = _flow.Layout.Length;
        int batchSize = Math.Min(p.BatchSize, train.Rows);
        int batchesPerEpoch = (train.Rows + batchSize - 1) / batchSize;
        var schedule = Schedule(p, batchesPerEpoch);
        var optimizer = new AdamW(_flow.Backend, _flow.Parameters.Length, new AdamWOptions { WeightDecay = p.WeightDecay });
        var gradient = new ShardedGradient(_flow);

        var state = stateFolder is null ? null : TrainingState.TryLoad(stateFolder, fingerprint, count);
        int epoch = 0, bestEpoch = 0, badEpochs = 0;
        double bestValidation = double.PositiveInfinity;
        float[] best;
        if (state is not null)
        {
            state.RestoreInto(_flow, optimizer);
            (epoch, bestEpoch, badEpochs, bestValidation, best) = (state.Epoch, state.BestEpoch, state.BadEpochs, state.BestValidationNll, state.BestParameters);
            observer.Resumed(epoch);
        }
        else
        {
            int rows = Math.Min(InitializationRows, train.Rows);
            var initial = train.Features.AsSpan(0, rows * d);
            if (_dequantize)
            {
                // Data-initialised layers must see what training feeds them: 8-bit pixels without their noise have
                // zero variance wherever the background is constant, and an ActNorm would take an infinite scale there.
                var noisy = initial.ToArray();
                UniformDequantization.AddNoise(noisy, new Random(unchecked(p.Seed * 1_000_003 - 1)));
                initial = noisy;
            }
            _flow.InitializeFromData(initial, rows, train.Context.AsSpan(0, rows * c));
            best = _flow.GetParameters();
            // The starting point competes too: a flow that begins as the data's Gaussian fit ("whiten") keeps it
            // when no epoch beats it on validation, instead of the first epoch's weights whatever they score.
            double startingNll = MeanNll(validation);
            if (double.IsFinite(startingNll))
                bestValidation = startingNll;
        }

        var x = new float[batchSize * d];
        var context = new float[batchSize * c];
        while (epoch < p.Epochs && badEpochs < p.Patience && !(deadlineTimestamp is { } deadline && Stopwatch.GetTimestamp() > deadline))
        {
            epoch++;
            using var span = FlowServiceTracing.Source.StartActivity("training epoch");
            span?.SetTag("flowservice.epoch", epoch);
            long started = Stopwatch.GetTimestamp();
            var order = SeededShuffle.ForEpoch(train.Rows, p.Seed, epoch);
            double sumNll = 0;
            for (int start = 0, batch = 0; start < train.Rows; start += batchSize, batch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int rows = Math.Min(batchSize, train.Rows - start);
                Gather(train, order, start, rows, x, context);
                if (_dequantize)
                    UniformDequantization.AddNoise(x.AsSpan(0, rows * d), new Random(unchecked(p.Seed * 1_000_003 + epoch * 65_537 + batch)));
                double nll = gradient.Compute(x.AsSpan(0, rows * d), context.AsSpan(0, rows * c), rows);
                double norm = GradientClipping.GlobalNorm(_flow.Backend, gradient.Gradient);
                if (!double.IsFinite(nll) || !double.IsFinite(norm))
                    throw new TrainingDivergedException(
                        $"Training diverged in epoch {epoch}, batch {batch + 1}: the {(double.IsFinite(nll) ? "gradient" : "loss")} became NaN or infinite. " +
                        "Lower training.learningRate, set training.gradClip, or standardize outliers in the data.");
                float scale = GradientClipping.Coefficient(norm, p.GradClip > 0 ? p.GradClip : null);
                optimizer.Update(_flow.Parameters, gradient.Gradient, schedule.At(optimizer.Step), scale);
                sumNll += nll;
            }
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            double validationNll = MeanNll(validation);
            if (!double.IsFinite(validationNll))
                throw new TrainingDivergedException(
                    $"Training diverged in epoch {epoch}: the validation NLL became NaN or infinite ({validationNll}). Lower training.learningRate or set training.gradClip.");
            if (validationNll < bestValidation)
            {
                (bestValidation, bestEpoch, badEpochs) = (validationNll, epoch, 0);
                best = _flow.GetParameters();
            }
            else
                badEpochs++;
            // Report first, then persist: a stop between the two repeats this epoch on resume (its record is replaced),
            // where the other order would lose the record of an epoch whose state was already saved.
            span?.SetTag("flowservice.train_nll", sumNll / train.Rows);
            span?.SetTag("flowservice.validation_nll", validationNll);
            observer.EpochFinished(new EpochRecord(epoch, sumNll / train.Rows, validationNll, train.Rows / Math.Max(seconds, 1e-9), seconds));
            if (stateFolder is not null)
                SaveState(stateFolder, fingerprint, epoch, optimizer, bestEpoch, badEpochs, bestValidation, best);
        }
        return new Result(best, epoch, bestEpoch, bestValidation);
    }

    /// <summary>The schedule of <paramref name="p"/> over optimizer steps.</summary>
    public static LearningRateSchedule Schedule(TrainingParameters p, int batchesPerEpoch)
    {
        int total = Math.Max(1, p.Epochs * batchesPerEpoch);
        if (p.Schedule is not ("constant" or "step"))
            return LearningRateSchedule.Cosine(p.LearningRate, total, Math.Min(p.WarmupSteps, total - 1), minimum: p.LearningRate * 0.01);
        var schedule = p.Schedule == "constant"
            ? LearningRateSchedule.Constant(p.LearningRate)
            : LearningRateSchedule.Step(p.LearningRate, p.StepEpochs * batchesPerEpoch, p.StepGamma);
        return p.WarmupSteps > 0 ? LearningRateSchedule.WarmUp(schedule, p.WarmupSteps) : schedule;
    }

    private double MeanNll(DatasetSplit.Part part)
    {
        var logProb = new float[part.Rows];
        var features = part.Features;
        if (_dequantize)
        {
            features = (float[])features.Clone();
            UniformDequantization.AddNoise(features, new Random(_parameters.Seed));
        }
        _flow.LogProb(features, part.Rows, part.Context, logProb);
        double sum = 0;
        foreach (float value in logProb)
            sum -= value;
        return sum / Math.Max(1, part.Rows);
    }

    private void Gather(DatasetSplit.Part part, int[] order, int start, int rows, float[] x, float[] context)
    {
        int d = _flow.Features, c = _flow.ContextFeatures;
        for (int r = 0; r < rows; r++)
        {
            int row = order[start + r];
            part.Features.AsSpan(row * d, d).CopyTo(x.AsSpan(r * d, d));
            if (c > 0)
                part.Context.AsSpan(row * c, c).CopyTo(context.AsSpan(r * c, c));
        }
    }

    private void SaveState(string folder, string fingerprint, int epoch, AdamW optimizer, int bestEpoch, int badEpochs, double bestValidation, float[] best) =>
        TrainingState.Capture(_flow, optimizer, fingerprint, epoch, bestEpoch, badEpochs, bestValidation, best).Save(folder);
}
