using System.Text.Json;
using FlowService.Model.Checkpoints;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Engine;

public sealed class NormalizingFlowEngineTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    static JsonElement Spec(string json) => JsonDocument.Parse(json).RootElement.Clone();

    /// <summary>Rows from N(μ, Σ), μ = (3, -1), Σ = [[4, 2.4], [2.4, 1.69]] (det 1).</summary>
    static NumericTable CorrelatedGaussian(int rows, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var values = new double[rows * 2];
        for (int r = 0; r < rows; r++)
        {
            double a = Normal(), b = Normal();
            values[r * 2] = 3 + 2 * a;
            values[r * 2 + 1] = -1 + 1.2 * a + 0.5 * b;
        }
        return new NumericTable(["x", "y"], rows, values);
    }

    static double TrueLogDensity(double x, double y)
    {
        double dx = x - 3, dy = y + 1;
        return -0.5 * (1.69 * dx * dx - 2 * 2.4 * dx * dy + 4 * dy * dy) - Math.Log(2 * Math.PI);
    }

    internal sealed class Recorder : ITrainingObserver
    {
        public int? ResumedAt { get; private set; }

        public List<EpochRecord> Epochs { get; } = [];

        public Action<EpochRecord>? OnEpoch { get; init; }

        /// <summary>Every Resumed call in order (an "auto" search reports one per candidate).</summary>
        public List<int> ResumedCalls { get; } = [];

        public void Resumed(int completedEpochs)
        {
            ResumedAt = completedEpochs;
            ResumedCalls.Add(completedEpochs);
        }

        public void EpochFinished(EpochRecord epoch)
        {
            Epochs.Add(epoch);
            OnEpoch?.Invoke(epoch);
        }
    }

    [Fact]
    public void A_trained_maf_matches_the_generating_gaussian_density_in_the_clients_units()
    {
        var split = DatasetSplit.Create(CorrelatedGaussian(4000, 1), [], 0.1, 0.1, seed: 1);
        var engine = new NormalizingFlowEngine();
        var recorder = new Recorder();
        var outcome = engine.Train(new TrainingRun(Spec("""{"type":"maf","layers":2,"hidden":[16,16]}"""), split,
            new TrainingParameters { Epochs = 60, BatchSize = 256, LearningRate = 0.01, Patience = 60 }, Path.Combine(_root, "state")), recorder, CancellationToken.None);

        Assert.Equal(60, recorder.Epochs.Count);
        Assert.True(recorder.Epochs[^1].TrainNll < recorder.Epochs[0].TrainNll);
        Assert.InRange(outcome.BestEpoch, 1, 60);
        var points = new float[] { 3f, -1f, 5f, 0.2f, 1f, -2.5f };
        var logProb = new float[3];
        outcome.Flow.LogProb(points, 3, [], logProb);
        for (int i = 0; i < 3; i++)
            Assert.True(Math.Abs(logProb[i] - TrueLogDensity(points[2 * i], points[2 * i + 1])) < 0.1,
                $"point {i}: flow {logProb[i]}, true {TrueLogDensity(points[2 * i], points[2 * i + 1])}");
        // The validation NLL the trainer reports is the best epoch's, and the flow it returns has the best weights
        // (the flow component's: the served density also mixes in the defensive Gaussian).
        var validation = new float[split.Validation.Rows];
        ((TrainedFlow)outcome.Flow).Flow.LogProb(split.Validation.Features, split.Validation.Rows, [], validation);
        Assert.Equal(recorder.Epochs[outcome.BestEpoch - 1].ValidationNll, -validation.Average(v => (double)v), 5);
        Assert.Equal(recorder.Epochs.Min(e => e.ValidationNll), recorder.Epochs[outcome.BestEpoch - 1].ValidationNll);
    }

    [Theory]
    [InlineData("""{"type":"realnvp","layers":4,"hidden":[16,16]}""")]
    [InlineData("""{"type":"maf","layers":3,"hidden":[16,16],"permutation":"random"}""")]
    [InlineData("""{"type":"glow","layers":2,"hidden":[16]}""")]
    [InlineData("""{"type":"gaussianization","layers":1,"base":{"components":3,"shrinkage":0.2}}""")]
    public void Interrupted_run_resumes_from_its_state_and_ends_bit_identical_to_an_uninterrupted_one(string specJson)
    {
        var spec = Spec(specJson);
        var table = CorrelatedGaussian(800, 2);
        var split = DatasetSplit.Create(table, [], 0.1, 0.1, seed: 5);
        var parameters = new TrainingParameters { Epochs = 8, BatchSize = 64, LearningRate = 0.01, Patience = 100, Seed = 5 };
        var engine = new NormalizingFlowEngine();

        var straightRecorder = new Recorder();
        var straight = (TrainedFlow)engine.Train(new TrainingRun(spec, split, parameters, Path.Combine(_root, "a")), straightRecorder, CancellationToken.None).Flow;

        using var kill = new CancellationTokenSource();
        var first = new Recorder { OnEpoch = e => { if (e.Epoch == 3) kill.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => engine.Train(new TrainingRun(spec, split, parameters, Path.Combine(_root, "b")), first, kill.Token));
        Assert.Equal(3, first.Epochs.Count);

        var second = new Recorder();
        var resumed = (TrainedFlow)engine.Train(new TrainingRun(spec, split, parameters, Path.Combine(_root, "b")), second, CancellationToken.None).Flow;
        Assert.Equal(3, second.ResumedAt);
        Assert.Equal(Enumerable.Range(4, 5), second.Epochs.Select(e => e.Epoch));
        Assert.Equal(straightRecorder.Epochs.Skip(3).Select(e => e.ValidationNll), second.Epochs.Select(e => e.ValidationNll));
        Assert.Equal(straight.Flow.GetParameters(), resumed.Flow.GetParameters());
    }

    [Fact]
    public void A_state_left_by_another_run_is_not_resumed()
    {
        var split = DatasetSplit.Create(CorrelatedGaussian(400, 2), [], 0.1, 0.1, seed: 5);
        var engine = new NormalizingFlowEngine();
        string state = Path.Combine(_root, "shared");
        engine.Train(new TrainingRun(Spec("""{"type":"nice","layers":2,"hidden":[8]}"""), split, new TrainingParameters { Epochs = 2 }, state), new Recorder(), CancellationToken.None);
        Assert.True(File.Exists(Path.Combine(state, TrainingState.FileName)));

        var other = new Recorder();
        engine.Train(new TrainingRun(Spec("""{"type":"nice","layers":2,"hidden":[8]}"""), split, new TrainingParameters { Epochs = 2, Seed = 2 }, state), other, CancellationToken.None);
        Assert.Null(other.ResumedAt);
        Assert.Equal([1, 2], other.Epochs.Select(e => e.Epoch));
    }

    [Theory]
    [InlineData("""{"type":"maf","layers":2,"hidden":[8],"permutation":"random"}""", 0)]
    [InlineData("""{"type":"nsf","layers":2,"hidden":[8],"bins":4}""", 1)]
    [InlineData("""{"type":"glow","layers":2,"hidden":[8]}""", 0)]
    [InlineData("""{"type":"gaussianization","layers":1,"bins":4,"base":{"components":3}}""", 0)]
    [InlineData("""{"type":"maf","layers":2,"hidden":[8],"base":{"components":2,"covariance":"diagonal"}}""", 1)]
    public void A_saved_checkpoint_loads_to_a_flow_that_scores_bit_identically(string specJson, int contextFeatures)
    {
        var random = new Random(4);
        var values = Enumerable.Range(0, 300 * 4).Select(_ => random.NextDouble() * 4 - 2).ToArray();
        var table = new NumericTable(["a", "b", "c", "k"], 300, values);
        var split = DatasetSplit.Create(table, contextFeatures > 0 ? ["k"] : [], 0.2, 0, seed: 3);
        var spec = Spec(specJson);
        var engine = new NormalizingFlowEngine();
        var trained = (TrainedFlow)engine.Train(new TrainingRun(spec, split, new TrainingParameters { Epochs = 2, Seed = 11 }, Path.Combine(_root, "s")), new Recorder(), CancellationToken.None).Flow;

        string folder = Path.Combine(_root, "checkpoint");
        string sha = engine.Save(trained, spec, folder);
        Assert.Matches("^[0-9a-f]{64}$", sha);
        Assert.True(File.Exists(Path.Combine(folder, Checkpoint.WeightsFileName)));
        var loaded = (TrainedFlow)engine.Load(folder);
        Assert.Equal(trained.Columns, loaded.Columns);
        Assert.Equal(trained.ContextColumns, loaded.ContextColumns);

        var v = split.Validation;
        var expected = new float[v.Rows];
        var actual = new float[v.Rows];
        trained.LogProb(v.Features, v.Rows, v.Context, expected);
        loaded.LogProb(v.Features, v.Rows, v.Context, actual);
        Assert.Equal(expected, actual);

        // An edited weight file is refused, never loaded.
        var weights = Path.Combine(folder, Checkpoint.WeightsFileName);
        var bytes = File.ReadAllBytes(weights);
        bytes[^1] ^= 1;
        File.WriteAllBytes(weights, bytes);
        Assert.Throws<CheckpointCorruptException>(() => engine.Load(folder));
    }

    [Fact]
    public void Divergence_is_reported_as_a_clear_failure()
    {
        var split = DatasetSplit.Create(CorrelatedGaussian(300, 3), [], 0.1, 0.1, seed: 1);
        var e = Assert.Throws<TrainingDivergedException>(() => new NormalizingFlowEngine().Train(
            new TrainingRun(Spec("""{"type":"realnvp","layers":2,"hidden":[8]}"""), split,
                new TrainingParameters { Epochs = 5, LearningRate = 1e300, GradClip = 0, Schedule = "constant" }, Path.Combine(_root, "d")),
            new Recorder(), CancellationToken.None));
        Assert.Contains("NaN or infinite", e.Message);
    }

    [Theory]
    [InlineData("""{"type":"realnvp","layers":0}""", 2, 0, "flow.layers")]
    [InlineData("""{"type":"nsf","bins":1000}""", 2, 0, "flow.bins")]
    [InlineData("""{"type":"maf","hiden":[8]}""", 2, 0, "flow.hiden")]
    [InlineData("""{"type":"realnvp"}""", 1, 0, "datasetId")]
    [InlineData("""{"type":"maf","base":{"components":1,"covariance":"full"}}""", 2, 0, "flow.base.covariance")]
    [InlineData("""{"type":"nsf","base":{"component":2}}""", 2, 0, "flow.base.component")]
    public void Spec_validation_names_the_field(string specJson, int features, int contextFeatures, string field)
    {
        var problem = new NormalizingFlowEngine().Validate(Spec(specJson), features, contextFeatures);
        Assert.NotNull(problem);
        Assert.Equal(field, problem.Value.Field);
    }

    [Fact]
    public void The_catalog_routes_every_recipe_type_to_the_engine_and_lists_them_for_an_unknown_type()
    {
        var catalog = new FlowEngineCatalog([new NormalizingFlowEngine()]);
        foreach (var type in new[] { "nice", "realnvp", "glow", "maf", "nsf", "RealNVP" })
            Assert.Null(catalog.Validate(Spec($$"""{"type":"{{type}}"}"""), 4, 1));
        var unknown = catalog.Validate(Spec("""{"type":"made-up"}"""), 2, 0)!.Value;
        Assert.Equal("flow.type", unknown.Field);
        Assert.Contains("realnvp", unknown.Message);
        Assert.Null(catalog.Validate(FlowEngineCatalog.DefaultSpec, 2, 0));
    }
}
