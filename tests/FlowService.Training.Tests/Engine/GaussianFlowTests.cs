using System.Text.Json;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Engine;

public class GaussianFlowTests
{
    /// <summary>Rows from N(μ, Σ) with Σ = C Cᵀ, C = [[2, 0], [1.2, 0.5]], μ = (3, -1).</summary>
    public static NumericTable CorrelatedGaussian(int rows, int seed)
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

    /// <summary>log N(x; μ, Σ) of <see cref="CorrelatedGaussian"/>'s generating density.</summary>
    public static double TrueLogDensity(double x, double y)
    {
        // Σ = [[4, 2.4], [2.4, 1.69]], det = 4 * 1.69 - 2.4² = 1.0.
        double dx = x - 3, dy = y + 1, det = 4 * 1.69 - 2.4 * 2.4;
        double quad = (1.69 * dx * dx - 2 * 2.4 * dx * dy + 4 * dy * dy) / det;
        return -0.5 * quad - Math.Log(2 * Math.PI) - 0.5 * Math.Log(det);
    }

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

    static Func<double, double, double> MaximumLikelihoodLogDensity(float[] xy, int rows)
    {
        double mx = 0, my = 0;
        for (int r = 0; r < rows; r++) { mx += xy[2 * r]; my += xy[2 * r + 1]; }
        mx /= rows;
        my /= rows;
        double sxx = 0, sxy = 0, syy = 0;
        for (int r = 0; r < rows; r++)
        {
            double dx = xy[2 * r] - mx, dy = xy[2 * r + 1] - my;
            sxx += dx * dx; sxy += dx * dy; syy += dy * dy;
        }
        sxx /= rows; sxy /= rows; syy /= rows;
        double det = sxx * syy - sxy * sxy;
        return (x, y) =>
        {
            double dx = x - mx, dy = y - my;
            return -0.5 * (syy * dx * dx - 2 * sxy * dx * dy + sxx * dy * dy) / det - Math.Log(2 * Math.PI) - 0.5 * Math.Log(det);
        };
    }

    static readonly JsonElement Spec = JsonDocument.Parse("""{"type":"gaussian"}""").RootElement.Clone();

    [Fact]
    public void Identity_initialised_flow_is_the_standardized_normal_density()
    {
        var flow = new GaussianFlow([1.0, -2.0], [2.0, 0.5], new double[GaussianFlow.ParameterCount(2)]);
        var logProb = new float[1];
        flow.LogProb([3f, -1.5f], 1, [], logProb);
        // u = ((3-1)/2, (-1.5+2)/0.5) = (1, 1); log p = -|u|²/2 - log 2π - log(2 · 0.5).
        Assert.Equal(-1.0 - Math.Log(2 * Math.PI) - Math.Log(1.0), logProb[0], 5);
    }

    [Fact]
    public void Analytic_gradient_matches_central_finite_differences()
    {
        var random = new Random(3);
        int d = 3, rows = 5;
        var theta = Enumerable.Range(0, GaussianFlow.ParameterCount(d)).Select(_ => random.NextDouble() * 0.6 - 0.3).ToArray();
        var u = Enumerable.Range(0, rows * d).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var gradient = new double[theta.Length];
        GaussianFlow.AccumulateGradient(theta, d, u, rows, gradient);
        for (int i = 0; i < theta.Length; i++)
        {
            // Strictly upper entries of L are unused: their gradient must be exactly zero.
            const double h = 1e-6;
            var plus = (double[])theta.Clone();
            var minus = (double[])theta.Clone();
            plus[i] += h;
            minus[i] -= h;
            double numeric = (GaussianFlow.AccumulateGradient(plus, d, u, rows, new double[theta.Length]) -
                              GaussianFlow.AccumulateGradient(minus, d, u, rows, new double[theta.Length])) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[i]) < 1e-5 * Math.Max(1, Math.Abs(numeric)), $"parameter {i}: analytic {gradient[i]}, numeric {numeric}");
        }
    }

    [Fact]
    public void Trained_flow_matches_the_generating_gaussian_density_and_inverts_exactly()
    {
        var split = DatasetSplit.Create(CorrelatedGaussian(4000, 1), [], 0.1, 0.1, seed: 1);
        var engine = new GaussianFlowEngine();
        string state = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));
        var outcome = engine.Train(new TrainingRun(Spec, split, new TrainingParameters { Epochs = 300, BatchSize = 1000, LearningRate = 0.01, Patience = 300 }, state), new Recorder(), CancellationToken.None);

        var points = new float[] { 3f, -1f, 5f, 0.2f, 1f, -2.5f, 0f, 0f };
        var logProb = new float[4];
        outcome.Flow.LogProb(points, 4, [], logProb);
        // Within 3 standard deviations the fit is within 0.1 nats of the generating density and within 0.06 of
        // the closed-form maximum-likelihood Gaussian of the training rows (what gradient training converges to).
        var mle = MaximumLikelihoodLogDensity(split.Train.Features, split.Train.Rows);
        for (int i = 0; i < 4; i++)
        {
            double x = points[2 * i], y = points[2 * i + 1];
            if (i == 3)
                continue;
            Assert.True(Math.Abs(logProb[i] - TrueLogDensity(x, y)) < 0.1, $"point {i}: flow {logProb[i]}, true {TrueLogDensity(x, y)}");
            Assert.True(Math.Abs(logProb[i] - mle(x, y)) < 0.06, $"point {i}: flow {logProb[i]}, MLE {mle(x, y)}");
        }

        // The training NLL reaches the maximum-likelihood Gaussian's (the lowest any Gaussian can reach) within 0.005 nats.
        var trainLogProb = new float[split.Train.Rows];
        outcome.Flow.LogProb(split.Train.Features, split.Train.Rows, [], trainLogProb);
        double mleNll = -Enumerable.Range(0, split.Train.Rows).Average(r => mle(split.Train.Features[2 * r], split.Train.Features[2 * r + 1]));
        Assert.InRange(-trainLogProb.Average(v => (double)v) - mleNll, -1e-6, 0.005);

        var z = new float[8];
        var logDet = new float[4];
        var back = new float[8];
        outcome.Flow.Encode(points, 4, [], z, logDet);
        outcome.Flow.Decode(z, 4, [], back);
        for (int i = 0; i < 8; i++)
            Assert.True(Math.Abs(back[i] - points[i]) <= 1e-4, $"round trip {i}: {points[i]} -> {back[i]}");
        for (int i = 0; i < 4; i++)
            Assert.Equal(logProb[i], -0.5f * (z[2 * i] * z[2 * i] + z[2 * i + 1] * z[2 * i + 1]) - (float)Math.Log(2 * Math.PI) + logDet[i], 4);
        Directory.Delete(state, true);
    }

    [Fact]
    public void Interrupted_run_resumes_from_its_state_and_ends_bit_identical_to_an_uninterrupted_one()
    {
        var split = DatasetSplit.Create(CorrelatedGaussian(1000, 2), [], 0.1, 0.1, seed: 5);
        var parameters = new TrainingParameters { Epochs = 12, BatchSize = 64, LearningRate = 0.02, Patience = 100, Seed = 5 };
        var engine = new GaussianFlowEngine();
        string root = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));

        var straight = (GaussianFlow)engine.Train(new TrainingRun(Spec, split, parameters, Path.Combine(root, "a")), new Recorder(), CancellationToken.None).Flow;

        using var kill = new CancellationTokenSource();
        var first = new Recorder { OnEpoch = e => { if (e.Epoch == 5) kill.Cancel(); } };
        Assert.ThrowsAny<OperationCanceledException>(() => engine.Train(new TrainingRun(Spec, split, parameters, Path.Combine(root, "b")), first, kill.Token));
        Assert.Equal(5, first.Epochs.Count);

        var second = new Recorder();
        var resumed = engine.Train(new TrainingRun(Spec, split, parameters, Path.Combine(root, "b")), second, CancellationToken.None);
        Assert.Equal(5, second.ResumedAt);
        Assert.Equal(Enumerable.Range(6, 7), second.Epochs.Select(e => e.Epoch));
        Assert.Equal(straight.Parameters, ((GaussianFlow)resumed.Flow).Parameters);
        Directory.Delete(root, true);
    }

    [Fact]
    public void Divergence_is_reported_as_a_clear_failure()
    {
        var split = DatasetSplit.Create(CorrelatedGaussian(200, 3), [], 0.1, 0.1, seed: 1);
        string state = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));
        var e = Assert.Throws<TrainingDivergedException>(() => new GaussianFlowEngine().Train(
            new TrainingRun(Spec, split, new TrainingParameters { Epochs = 5, LearningRate = 1e300, GradClip = 0 }, state), new Recorder(), CancellationToken.None));
        Assert.Contains("NaN or infinite", e.Message);
    }

    [Fact]
    public void Spec_validation_names_the_field()
    {
        var engine = new GaussianFlowEngine();
        Assert.Equal("flow.layers", engine.Validate(JsonDocument.Parse("""{"type":"gaussian","layers":3}""").RootElement, 2, 0)!.Value.Field);
        Assert.Equal("contextColumns", engine.Validate(Spec, 2, 1)!.Value.Field);
        Assert.Null(engine.Validate(Spec, 2, 0));
        var catalog = new FlowEngineCatalog([engine]);
        Assert.Equal("flow.type", catalog.Validate(JsonDocument.Parse("""{"type":"nope"}""").RootElement, 2, 0)!.Value.Field);
        Assert.Equal("flow", catalog.Validate(JsonDocument.Parse("[1]").RootElement, 2, 0)!.Value.Field);
    }
}
