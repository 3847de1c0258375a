using System.Diagnostics;
using System.Text.Json;
using FlowService.Model.Checkpoints;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;
using Xunit.Abstractions;

namespace FlowService.Training.Tests.ReverseKl;

/// <summary>
/// Reverse-KL fits through the engine: log Ẑ within 0.05 of the known log Z with normalized ESS ≥ 0.5 on small
/// targets (the D = 10 goals are measured in bench/, not here), per-epoch statistics, checkpoints that score
/// what was sampled, and a killed fit that resumes exactly.
/// </summary>
public sealed class ReverseKlFittingTests(ITestOutputHelper output) : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    sealed class Recorder : ITrainingObserver
    {
        public int? ResumedAt { get; private set; }

        public List<EpochRecord> Epochs { get; } = [];

        public Action<EpochRecord>? OnEpoch { get; init; }

        public void Resumed(int completedEpochs) => ResumedAt = completedEpochs;

        public void EpochFinished(EpochRecord epoch)
        {
            Epochs.Add(epoch);
            OnEpoch?.Invoke(epoch);
        }
    }

    [Theory]
    [InlineData("""{"name": "gaussianMixture", "dimensions": 2, "parameters": {"components": 2, "radius": 1.5}, "stepsPerEpoch": 50}""",
        """{"type": "nsf", "layers": 4, "hidden": [32, 32], "bins": 8}""")]
    [InlineData("""{"name": "banana", "dimensions": 2, "parameters": {"curvature": 0.5}, "stepsPerEpoch": 50}""",
        """{"type": "realnvp", "layers": 6, "hidden": [32, 32]}""")]
    public void A_fit_recovers_log_Z_with_a_high_effective_sample_size(string target, string flow)
    {
        var engine = new NormalizingFlowEngine();
        var recorder = new Recorder();
        var parameters = new TrainingParameters { Epochs = 16, BatchSize = 256, LearningRate = 3e-3, Seed = 1 };
        long started = Stopwatch.GetTimestamp();
        var outcome = engine.FitTarget(new TargetFitRun(Json(flow), Json(target), parameters, Path.Combine(_root, "state")), recorder, CancellationToken.None);
        var fit = outcome.Fit;
        output.WriteLine($"{fit.Target}: log Z {fit.LogZ:F4} ± {fit.LogZStandardError:F4} (true {fit.KnownLogZ:F4}), ESS {fit.EffectiveSampleSize:F3}, " +
                         $"modes {fit.ModesFound}/{fit.Modes}, {Stopwatch.GetElapsedTime(started).TotalSeconds:F1} s");
        Assert.Equal(16, recorder.Epochs.Count);
        Assert.All(recorder.Epochs, e => Assert.NotNull(e.Importance));
        Assert.True(Math.Abs(fit.LogZ - fit.KnownLogZ!.Value) <= 0.05, $"log Z {fit.LogZ} vs {fit.KnownLogZ}");
        Assert.True(fit.EffectiveSampleSize >= 0.5, $"ESS {fit.EffectiveSampleSize}");
        // E_q[log q - log p̃] = KL(q‖p) - log Z ≥ -log Z, and the fit gets close to that bound.
        Assert.InRange(fit.ReverseKl + fit.KnownLogZ!.Value, 0, 0.1);
        Assert.True(recorder.Epochs[^1].ValidationNll < recorder.Epochs[0].ValidationNll);
        if (fit.Modes is { } modes)
            Assert.Equal(modes, fit.ModesFound);
    }

    [Fact]
    public void A_saved_fit_scores_its_samples_with_the_density_they_were_drawn_with()
    {
        var engine = new NormalizingFlowEngine();
        var parameters = new TrainingParameters { Epochs = 2, BatchSize = 64, Seed = 3 };
        var outcome = engine.FitTarget(new TargetFitRun(Json("""{"type": "realnvp", "layers": 2, "hidden": [8]}"""),
            Json("""{"name": "funnel", "dimensions": 3, "stepsPerEpoch": 5, "evaluationSamples": 64}"""), parameters, Path.Combine(_root, "state")),
            new Recorder(), CancellationToken.None);
        string folder = Path.Combine(_root, "checkpoint");
        engine.Save(outcome.Flow, Json("""{"type": "realnvp", "layers": 2, "hidden": [8]}"""), folder);
        Assert.True(Checkpoint.Load(folder).Info.Generative);
        var loaded = engine.Load(folder);
        const int n = 50;
        var x = new float[n * 3];
        loaded.Sample(n, seed: 4, temperature: 1, [], x);
        var original = new float[n];
        var reloaded = new float[n];
        outcome.Flow.LogProb(x, n, [], original);
        loaded.LogProb(x, n, [], reloaded);
        Assert.Equal(original, reloaded);
        var z = new float[n * 3];
        Model.Distributions.StandardNormal.Sample(z, 4, 1);
        var logQ = new float[n];
        ((TrainedFlow)loaded).Flow.DecodeWithLogDensity(z, n, new float[n * 3], logQ);
        for (int r = 0; r < n; r++)
            Assert.Equal(logQ[r], reloaded[r], 3);
    }

    [Fact]
    public void An_interrupted_fit_resumes_to_the_same_weights()
    {
        var engine = new NormalizingFlowEngine();
        var parameters = new TrainingParameters { Epochs = 4, BatchSize = 128, Seed = 5 };
        var flow = Json("""{"type": "realnvp", "layers": 2, "hidden": [16]}""");
        var target = Json("""{"name": "ring", "dimensions": 2, "stepsPerEpoch": 10, "evaluationSamples": 256}""");
        var whole = engine.FitTarget(new TargetFitRun(flow, target, parameters, Path.Combine(_root, "whole")), new Recorder(), CancellationToken.None);

        using var stop = new CancellationTokenSource();
        var first = new Recorder { OnEpoch = e => { if (e.Epoch == 2) stop.Cancel(); } };
        string state = Path.Combine(_root, "resumed");
        Assert.ThrowsAny<OperationCanceledException>(() => engine.FitTarget(new TargetFitRun(flow, target, parameters, state), first, stop.Token));
        var second = new Recorder();
        var resumed = engine.FitTarget(new TargetFitRun(flow, target, parameters, state), second, CancellationToken.None);
        Assert.Equal(2, second.ResumedAt);
        Assert.Equal(((TrainedFlow)whole.Flow).Flow.GetParameters(), ((TrainedFlow)resumed.Flow).Flow.GetParameters());
        Assert.Equal(whole.Fit, resumed.Fit);
    }
}
