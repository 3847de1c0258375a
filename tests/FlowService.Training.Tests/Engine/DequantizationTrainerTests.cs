using FlowService.Model.Flows;
using FlowService.Model.Transforms;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Engine;

/// <summary>Variational dequantization: the joint bound's gradients for both flows against central differences, and training that tightens the bound beyond uniform dequantization.</summary>
public sealed class DequantizationTrainerTests
{
    private const int D = 3;

    private static float[] Levels(int rows, int seed)
    {
        // A discretized correlated Gaussian: integer levels that a box-shaped q fits poorly.
        var random = new Random(seed);
        var k = new float[rows * D];
        for (int r = 0; r < rows; r++)
        {
            double a = NormalDraw(random), b = NormalDraw(random), c = NormalDraw(random);
            k[r * D] = (float)Math.Floor(3 + 0.8 * a);
            k[r * D + 1] = (float)Math.Floor(2 + 0.6 * a + 0.5 * b);
            k[r * D + 2] = (float)Math.Floor(1 + 0.7 * c);
        }
        return k;
    }

    private static double NormalDraw(Random random) => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());

    private static (NormalizingFlow Model, NormalizingFlow Dequantizer) Flows(float[] k, int rows)
    {
        var shifted = k.Select(v => v + 0.5f).ToArray();
        var model = NormalizingFlow.Create("""{"type":"realnvp","layers":4,"hidden":[16],"activation":"tanh"}""", D, 0, seed: 1, Standardization.Fit(shifted, D));
        var dequantizer = NormalizingFlow.Create(FlowSpec.Parse("""{"type":"realnvp","layers":2,"hidden":[16],"activation":"tanh"}"""), D, D, seed: 2, generative: true);
        return (model, dequantizer);
    }

    [Fact]
    public void Gradients_of_the_bound_match_central_differences_for_both_flows()
    {
        const int rows = 12;
        var k = Levels(rows, seed: 3);
        var (model, dequantizer) = Flows(k, rows);
        var random = new Random(4);
        foreach (var flow in new[] { model, dequantizer })
        {
            var theta = flow.GetParameters();
            for (int i = 0; i < theta.Length; i++)
                theta[i] += 0.2f * (float)(random.NextDouble() * 2 - 1);
            flow.SetParameters(theta);
        }
        var trainer = new DequantizationTrainer(model, dequantizer, new TrainingParameters());
        var modelGradient = new float[model.Layout.Length];
        var dequantizerGradient = new float[dequantizer.Layout.Length];
        double bound = trainer.BoundAndGradients(k, rows, seed: 9, modelGradient, dequantizerGradient);
        Assert.Equal(bound, trainer.BoundOf(k, rows, seed: 9), 4);

        foreach (var (flow, gradient) in new[] { (model, modelGradient), (dequantizer, dequantizerGradient) })
        {
            var theta = flow.GetParameters();
            var indices = flow.Layout.Slots.SelectMany(s => Enumerable.Range(s.Offset, s.Rows * s.Cols)).OrderBy(_ => random.Next()).Take(16);
            foreach (int i in indices)
            {
                const float h = 1f / 256;
                var shifted = (float[])theta.Clone();
                shifted[i] = theta[i] + h;
                flow.SetParameters(shifted);
                double plus = trainer.BoundOf(k, rows, seed: 9);
                shifted[i] = theta[i] - h;
                flow.SetParameters(shifted);
                double minus = trainer.BoundOf(k, rows, seed: 9);
                flow.SetParameters(theta);
                double numeric = (plus - minus) / (2 * h);
                Assert.True(Math.Abs(numeric - gradient[i]) <= 3e-3 + 3e-2 * Math.Abs(numeric), $"{(flow.Generative ? "q" : "p")}[{i}]: {gradient[i]} vs {numeric}");
            }
            Assert.Contains(gradient, g => Math.Abs(g) > 1e-3);
        }
    }

    [Fact]
    public void Variational_dequantization_ends_with_a_tighter_bound_than_uniform_at_the_same_budget()
    {
        const int rows = 1200, test = 400;
        var k = Levels(rows + test, seed: 5);
        var train = k[..(rows * D)];
        var held = k[(rows * D)..];
        var parameters = new TrainingParameters { Epochs = 12, BatchSize = 128, LearningRate = 3e-3, Patience = 12, Seed = 1 };
        var (uniformModel, _) = Flows(train, rows);
        var uniform = new DequantizationTrainer(uniformModel, null, parameters);
        uniform.Train(train, rows, held, test, CancellationToken.None);
        var (model, dequantizer) = Flows(train, rows);
        var variational = new DequantizationTrainer(model, dequantizer, parameters);
        variational.Train(train, rows, held, test, CancellationToken.None);
        double uniformBound = uniform.Bound(held, test, draws: 4, seed: 77), variationalBound = variational.Bound(held, test, draws: 4, seed: 77);
        Assert.True(variationalBound < uniformBound - 0.05, $"variational {variationalBound:F4} vs uniform {uniformBound:F4} nats/row");
    }
}
