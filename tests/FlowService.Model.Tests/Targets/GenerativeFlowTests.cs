using FlowService.Model.Flows;
using FlowService.Model.Targets;

namespace FlowService.Model.Tests.Targets;

/// <summary>Generative flows (chain maps latent → data): scoring inverts sampling, and the reverse-KL gradient against central differences.</summary>
public sealed class GenerativeFlowTests
{
    public static TheoryData<string> Specs => new()
    {
        """{"type":"realnvp","layers":4,"hidden":[16],"activation":"tanh"}""",
        """{"type":"nsf","layers":2,"hidden":[16],"bins":5,"tailBound":4,"activation":"tanh"}""",
        """{"type":"maf","layers":2,"hidden":[16],"activation":"tanh"}""",
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Log_prob_of_a_sample_is_the_density_it_was_drawn_with(string json)
    {
        const int d = 3, rows = 40;
        var flow = NormalizingFlow.Create(FlowSpec.Parse(json), d, 0, seed: 2, generative: true);
        Perturb(flow, 0.3f, seed: 4);
        var z = Noise(rows * d, seed: 5);
        var x = new float[rows * d];
        var logQ = new float[rows];
        flow.DecodeWithLogDensity(z, rows, x, logQ);
        var logProb = new float[rows];
        flow.LogProb(x, rows, [], logProb);
        var encoded = new float[rows * d];
        flow.Encode(x, rows, [], encoded, new float[rows]);
        for (int i = 0; i < z.Length; i++)
            Assert.Equal(z[i], encoded[i], 3);
        for (int r = 0; r < rows; r++)
            Assert.Equal(logQ[r], logProb[r], 3);
        // The same noise through Sample's path (Decode) lands on the same points.
        var decoded = new float[rows * d];
        flow.Decode(z, rows, [], decoded);
        Assert.Equal(x, decoded);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Reverse_kl_gradient_matches_central_differences(string json)
    {
        const int d = 2, rows = 16;
        var target = BuiltInTargets.Create("banana", d, null);
        var flow = NormalizingFlow.Create(FlowSpec.Parse(json), d, 0, seed: 7, generative: true);
        Perturb(flow, 0.2f, seed: 8);
        var z = Noise(rows * d, seed: 9);
        var tz = flow.Backend.Allocate(rows, d);
        flow.Backend.Upload(z, tz);
        var gradients = flow.AllocateGradients();
        var logWeights = new double[rows];
        double loss = flow.AccumulateReverseKlGradients(flow.CreateTrainingContext(gradients), tz, target, 1f / rows, logWeights) / rows;
        var gradient = new float[gradients.Length];
        flow.Backend.Download(gradients, gradient);

        double Loss(float[] parameters)
        {
            flow.SetParameters(parameters);
            var scratch = flow.AllocateGradients();
            return flow.AccumulateReverseKlGradients(flow.CreateTrainingContext(scratch), tz, target, 1f / rows, new double[rows]) / rows;
        }

        var theta = flow.GetParameters();
        Assert.Equal(loss, Loss(theta), 5);
        var random = new Random(10);
        const float h = 1f / 256;
        int checkedCount = 0;
        // Slots are 16-float aligned: draw among the parameters, not the padding between them.
        var indices = flow.Layout.Slots.SelectMany(s => Enumerable.Range(s.Offset, s.Rows * s.Cols)).ToArray();
        foreach (int i in indices.OrderBy(_ => random.Next()).Take(24))
        {
            var shifted = (float[])theta.Clone();
            shifted[i] = theta[i] + h;
            double plus = Loss(shifted);
            shifted[i] = theta[i] - h;
            double minus = Loss(shifted);
            double numeric = (plus - minus) / (2 * h);
            Assert.True(Math.Abs(numeric - gradient[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric), $"parameter {i}: {gradient[i]} vs {numeric}");
            checkedCount++;
        }
        Assert.Equal(24, checkedCount);
        Assert.Contains(gradient, g => Math.Abs(g) > 1e-3);
    }

    [Fact]
    public void A_generative_flow_refuses_maximum_likelihood_and_a_density_flow_refuses_reverse_kl()
    {
        var generative = NormalizingFlow.Create(FlowSpec.Parse("""{"type":"realnvp","layers":2,"hidden":[8]}"""), 2, 0, seed: 1, generative: true);
        Assert.Throws<InvalidOperationException>(() => generative.LossAndGradient(new float[4], 2, [], new float[generative.Layout.Length]));
        var density = NormalizingFlow.Create(FlowSpec.Parse("""{"type":"realnvp","layers":2,"hidden":[8]}"""), 2, 0, seed: 1);
        var z = density.Backend.Allocate(2, 2);
        Assert.Throws<InvalidOperationException>(() => density.AccumulateReverseKlGradients(density.CreateTrainingContext(density.AllocateGradients()), z,
            BuiltInTargets.Create("banana", 2, null), 0.5f, new double[2]));
    }

    private static void Perturb(NormalizingFlow flow, float scale, int seed)
    {
        var random = new Random(seed);
        var theta = flow.GetParameters();
        for (int i = 0; i < theta.Length; i++)
            theta[i] += scale * (float)(random.NextDouble() * 2 - 1);
        flow.SetParameters(theta);
    }

    private static float[] Noise(int length, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }
}
