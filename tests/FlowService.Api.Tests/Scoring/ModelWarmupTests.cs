using System.Text.Json;
using FlowService.Api.Observability;
using FlowService.Api.Scoring;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;
using Prometheus;

namespace FlowService.Api.Tests.Scoring;

/// <summary>
/// The warm-up's arithmetic check: a model whose typical samples score NaN is refused (409 problem upstream); one whose
/// NaNs are confined to its far tails (samples beyond a radius that only temperature 1 reaches) is served, with the count.
/// </summary>
public sealed class ModelWarmupTests
{
    static readonly InferenceMetrics Metrics = new(Prometheus.Metrics.NewCustomRegistry());

    [Fact]
    public void A_flow_whose_log_p_is_NaN_only_in_its_far_tails_is_served_and_the_tail_rows_are_counted()
    {
        // N(0, I) in 4 dimensions with NaN beyond |x|² = 9: about 6% of rows at temperature 1 (chi-square_4 > 9), and at
        // temperature 0.5 a chi-square above 36 (probability 3e-7): some of the 256 tail rows, none of the typical ones.
        var flow = new GaussianWithNaNBeyond(features: 4, radiusSquared: 9);
        using var served = new ServedModel(Version(), flow, new ScoringOptions(), Metrics);
        var (tailNaN, rows) = ModelWarmup.Run(served, 256);
        Assert.Equal(256, rows);
        Assert.Equal(flow.NaNRowsAtTemperatureOne(256, seed: 2), tailNaN);
        Assert.InRange(tailNaN, 1, 255);
    }

    [Fact]
    public void A_flow_whose_typical_samples_score_NaN_is_refused()
    {
        var flow = new GaussianWithNaNBeyond(features: 4, radiusSquared: 0);
        using var served = new ServedModel(Version(), flow, new ScoringOptions(), Metrics);
        var refused = Assert.Throws<ModelUnavailableException>(() => ModelWarmup.Run(served, 256));
        Assert.Contains("'warm' v1 is not served", refused.Message);
        Assert.Contains("typical samples", refused.Message);
    }

    [Fact]
    public void A_defensive_component_does_not_hide_a_flow_whose_samples_score_NaN()
    {
        // An image flow with NaN weights: its log p is NaN everywhere, where the served density (with the uniform cube)
        // answers the cube's floor, a number, for every image in the cube; the check runs on the flow alone.
        var flow = FlowService.Model.Flows.NormalizingFlow.Create("""{"type":"realnvp","image":[1,4,4],"levels":1,"steps":1,"channels":4,"blocks":0}""", 16, 0, seed: 1);
        var weights = flow.GetParameters();
        Array.Fill(weights, float.NaN);
        flow.SetParameters(weights);
        var image = new TrainedFlow(flow, [.. Enumerable.Range(0, 16).Select(i => $"p{i}")], [],
            new DefensiveMixture(0.001, new FlowService.Model.Distributions.UniformCube(16, 256)));
        var served = new float[1];
        image.LogProb(new float[16], 1, [], served);
        Assert.Equal(Math.Log(0.001) - 16 * Math.Log(256), served[0], 3);

        using var model = new ServedModel(Version(), image, new ScoringOptions(), Metrics);
        var refused = Assert.Throws<ModelUnavailableException>(() => ModelWarmup.Run(model, 64));
        Assert.Contains("typical samples", refused.Message);
    }

    static ModelVersion Version() => new("warm", 1, "job", "dataset", "sha", ["a", "b", "c", "d"], [], JsonDocument.Parse("""{"type":"test"}""").RootElement,
        new TrainingParameters(), new ModelMetrics(1, 1, 1, 1, 1, 1, 1, 1), AnomalyCalibration.FromValidationLogProb([-3f, -2f, -1f]), "folder", "sha", DateTimeOffset.UnixEpoch);

    /// <summary>The standard normal, except that log p is NaN where |x|² exceeds the radius (an overflow stand-in).</summary>
    sealed class GaussianWithNaNBeyond(int features, double radiusSquared) : IDensityFlow
    {
        public int Features => features;

        public int ContextFeatures => 0;

        public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb)
        {
            for (int r = 0; r < rows; r++)
            {
                double squared = 0;
                for (int c = 0; c < features; c++)
                    squared += (double)x[r * features + c] * x[r * features + c];
                logProb[r] = squared > radiusSquared ? float.NaN : (float)(-0.5 * squared - 0.5 * features * Math.Log(2 * Math.PI));
            }
        }

        public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet)
        {
            x.CopyTo(z);
            logDet[..rows].Clear();
        }

        public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x) => z.CopyTo(x);

        public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
        {
            var random = new Random(seed);
            for (int i = 0; i < n * features; i++)
                x[i] = temperature * (float)(Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble()));
        }

        public int NaNRowsAtTemperatureOne(int rows, int seed)
        {
            var x = new float[rows * features];
            var logProb = new float[rows];
            Sample(rows, seed, 1f, [], x);
            LogProb(x, rows, [], logProb);
            return logProb.Count(float.IsNaN);
        }
    }
}
