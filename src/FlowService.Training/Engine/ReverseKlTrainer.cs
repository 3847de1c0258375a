using System.Diagnostics;
using FlowService.Model.Flows;
using FlowService.Model.Parameters;
using FlowService.Model.Targets;
using FlowService.Training.Jobs;
using FlowService.Training.Optimization;

namespace FlowService.Training.Engine;

/// <summary>
/// Fits a generative <see cref="NormalizingFlow"/> q to an unnormalized density p̃ by minimizing
/// E_q[log q(x) - log p̃(x)] = KL(q ‖ p) - log Z with the reparameterization gradient (fresh noise every step,
/// <see cref="ReverseKlGradient"/>), global-norm clipping fused into AdamW and the job's learning-rate schedule.
/// After every epoch of <see cref="TargetSpec.StepsPerEpoch"/> steps it draws the same evaluation noise and
/// reports the reverse-KL estimate, the normalized effective sample size and log Ẑ with its standard error
/// (<see cref="ImportanceStatistics"/>); the weights with the lowest evaluation reverse KL are kept, and
/// training stops after <see cref="TrainingParameters.Patience"/> epochs without one. A <see cref="TrainingState"/>
/// after every epoch lets a killed run continue exactly (the noise of epoch e is drawn from seed + e).
/// </summary>
public sealed class ReverseKlTrainer(NormalizingFlow flow, TrainingParameters parameters, TargetSpec target)
{
    /// <summary>Offset of the evaluation noise's seed from the training seed, so the two streams never coincide.</summary>
    public const int EvaluationSeedOffset = 1_000_003;

    public sealed record Result(float[] BestParameters, int EpochsRun, int BestEpoch, double BestReverseKl);

    public Result Train(ITrainingObserver observer, string? stateFolder, string fingerprint, CancellationToken cancellationToken)
    {
        var p = parameters;
        int d = flow.Features, count = flow.Layout.Length, batch = p.BatchSize;
        var schedule = FlowTrainer.Schedule(p, target.StepsPerEpoch);
        var optimizer = new AdamW(flow.Backend, flow.Parameters.Length, new AdamWOptions { WeightDecay = p.WeightDecay });
        var gradient = new ReverseKlGradient(flow, target.Density);
        var evaluationNoise = Noise(target.EvaluationSamples * d, p.Seed + EvaluationSeedOffset);

        var state = stateFolder is null ? null : TrainingState.TryLoad(stateFolder, fingerprint, count);
        int epoch = 0, bestEpoch = 0, badEpochs = 0;
        double best = double.PositiveInfinity;
        float[] bestParameters = flow.GetParameters();
        if (state is not null)
        {
            state.RestoreInto(flow, optimizer);
            (epoch, bestEpoch, badEpochs, best, bestParameters) = (state.Epoch, state.BestEpoch, state.BadEpochs, state.BestValidationNll, state.BestParameters);
            observer.Resumed(epoch);
        }

        var z = new float[batch * d];
        var logWeights = new double[batch];
        while (epoch < p.Epochs && badEpochs < p.Patience)
        {
            epoch++;
            long started = Stopwatch.GetTimestamp();
            var random = new Random(p.Seed + epoch);
            double sumLoss = 0;
            for (int step = 0; step < target.StepsPerEpoch; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                for (int i = 0; i < z.Length; i++)
                    z[i] = ParameterInitializer.StandardNormal(random);
                double loss = gradient.Compute(z, batch, logWeights);
                double norm = GradientClipping.GlobalNorm(flow.Backend, gradient.Gradient);
                if (!double.IsFinite(loss) || !double.IsFinite(norm))
                    throw new TrainingDivergedException(
                        $"Reverse-KL fitting diverged in epoch {epoch}, step {step + 1}: the {(double.IsFinite(loss) ? "gradient" : "loss")} became NaN or infinite " +
                        "(the target's log-density or its gradient is not finite where the flow put samples). Lower training.learningRate, set training.gradClip, " +
                        "or make the target finite everywhere.");
                optimizer.Update(flow.Parameters, gradient.Gradient, schedule.At(optimizer.Step), GradientClipping.Coefficient(norm, p.GradClip > 0 ? p.GradClip : null));
                sumLoss += loss / batch;
            }
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var statistics = Evaluate(flow, target.Density, evaluationNoise);
            if (!double.IsFinite(statistics.ReverseKl))
                throw new TrainingDivergedException($"Reverse-KL fitting diverged in epoch {epoch}: the evaluation reverse KL is {statistics.ReverseKl}. Lower training.learningRate.");
            if (statistics.ReverseKl < best)
            {
                (best, bestEpoch, badEpochs) = (statistics.ReverseKl, epoch, 0);
                bestParameters = flow.GetParameters();
            }
            else
                badEpochs++;
            observer.EpochFinished(new EpochRecord(epoch, sumLoss / target.StepsPerEpoch, statistics.ReverseKl,
                (double)target.StepsPerEpoch * batch / Math.Max(seconds, 1e-9), seconds, statistics));
            if (stateFolder is not null)
                SaveState(stateFolder, fingerprint, epoch, optimizer, bestEpoch, badEpochs, best, bestParameters);
        }
        return new Result(bestParameters, epoch, bestEpoch, best);
    }

    /// <summary>Importance statistics of the flow against the target on the given noise (rows x D): x = T(z), log w = log p̃(x) - log q(x).</summary>
    public static ImportanceStatistics Evaluate(NormalizingFlow flow, TargetDensity target, float[] noise) => Evaluate(flow, target, noise, out _, out _);

    /// <summary><see cref="Evaluate(NormalizingFlow, TargetDensity, float[])"/> that also returns the samples x and their log q.</summary>
    public static ImportanceStatistics Evaluate(NormalizingFlow flow, TargetDensity target, float[] noise, out float[] samples, out float[] logQ)
    {
        int d = flow.Features, rows = noise.Length / d;
        samples = new float[noise.Length];
        logQ = new float[rows];
        flow.DecodeWithLogDensity(noise, rows, samples, logQ);
        var logTarget = new double[rows];
        target.LogDensity(samples, rows, logTarget, Span<double>.Empty);
        var logWeights = new double[rows];
        for (int r = 0; r < rows; r++)
            logWeights[r] = logTarget[r] - logQ[r];
        return ImportanceStatistics.From(logWeights);
    }

    /// <summary>Standard normal noise from one <see cref="Random"/>(seed).</summary>
    public static float[] Noise(int length, int seed)
    {
        var random = new Random(seed);
        var noise = new float[length];
        for (int i = 0; i < length; i++)
            noise[i] = ParameterInitializer.StandardNormal(random);
        return noise;
    }

    private void SaveState(string folder, string fingerprint, int epoch, AdamW optimizer, int bestEpoch, int badEpochs, double best, float[] bestParameters) =>
        TrainingState.Capture(flow, optimizer, fingerprint, epoch, bestEpoch, badEpochs, best, bestParameters).Save(folder);
}
