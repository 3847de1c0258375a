using FlowService.Model.Flows;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Flows;

/// <summary>The host-level flow API over the MAF, NSF and RealNVP recipes, and spec validation.</summary>
public sealed class NormalizingFlowTests
{
    private const int Rows = 6, Features = 3;

    public static TheoryData<string> Specs => new()
    {
        """{"type":"maf","layers":3,"hidden":[16]}""",
        """{"type":"nsf","layers":2,"hidden":[16],"bins":6,"tailBound":3}""",
        """{"type":"nsf","layers":2,"hidden":[16],"bins":6,"tailBound":3,"variant":"autoregressive"}""",
        """{"type":"realnvp","layers":4,"hidden":[16,16]}""",
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Zero_initialised_flows_score_the_standard_normal_density_exactly(string json)
    {
        var flow = NormalizingFlow.Create(FlowSpec.Parse(json.Replace("{", "{\"zeroInit\":true,", StringComparison.Ordinal)), Features, 0, seed: 1);
        float[] x = Data(seed: 2);
        var logProb = new float[Rows];
        flow.LogProb(x, Rows, [], logProb);
        for (int r = 0; r < Rows; r++)
            Assert.Equal(NormalizingFlow.BaseLogDensity(x.AsSpan(r * Features, Features)), logProb[r], 5);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Decode_inverts_encode_sampling_is_seeded_and_the_seed_fixes_the_weights(string json)
    {
        var flow = NormalizingFlow.Create(FlowSpec.Parse(json), Features, 0, seed: 3);
        Assert.Equal(flow.GetParameters(), NormalizingFlow.Create(FlowSpec.Parse(json), Features, 0, seed: 3).GetParameters());
        Assert.NotEqual(flow.GetParameters(), NormalizingFlow.Create(FlowSpec.Parse(json), Features, 0, seed: 4).GetParameters());

        float[] x = Data(seed: 5);
        var z = new float[x.Length];
        var logDet = new float[Rows];
        flow.Encode(x, Rows, [], z, logDet);
        var back = new float[x.Length];
        flow.Decode(z, Rows, [], back);
        for (int i = 0; i < x.Length; i++)
            Assert.True(Math.Abs(x[i] - back[i]) <= 1e-4, $"{x[i]} vs {back[i]}");

        var a = new float[Rows * Features];
        var b = new float[Rows * Features];
        flow.Sample(Rows, seed: 9, temperature: 0.8f, [], a);
        flow.Sample(Rows, seed: 9, temperature: 0.8f, [], b);
        Assert.Equal(a, b);
        Assert.All(a, v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void LossAndGradient_is_the_mean_NLL_and_its_gradient(string json)
    {
        var flow = NormalizingFlow.Create(FlowSpec.Parse(json.Replace("{", "{\"contextFeatures\":2,", StringComparison.Ordinal)), Features, 2, seed: 6);
        float[] x = Data(seed: 7);
        float[] context = Data(seed: 8).Take(Rows * 2).ToArray();
        var gradient = new float[flow.Layout.Length];
        double loss = flow.LossAndGradient(x, Rows, context, gradient);

        double MeanNll()
        {
            var logProb = new float[Rows];
            flow.LogProb(x, Rows, context, logProb);
            return -logProb.Select(v => (double)v).Average();
        }
        Assert.Equal(MeanNll(), loss, 4);
        float[] parameters = flow.GetParameters();
        var random = new Random(1);
        for (int n = 0; n < 12; n++)
        {
            int k = random.Next(parameters.Length);
            const float eps = 2e-3f;
            float original = parameters[k];
            parameters[k] = original + eps;
            flow.SetParameters(parameters);
            double plus = MeanNll();
            parameters[k] = original - eps;
            flow.SetParameters(parameters);
            double minus = MeanNll();
            parameters[k] = original;
            flow.SetParameters(parameters);
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(numeric - gradient[k]) <= 3e-3 + 5e-2 * Math.Abs(numeric), $"parameter {k}: finite difference {numeric}, analytic {gradient[k]}");
        }

        // The context matters: another context scores the same x differently.
        var shifted = context.Select(v => v + 1f).ToArray();
        var a = new float[Rows];
        var b = new float[Rows];
        flow.LogProb(x, Rows, context, a);
        flow.LogProb(x, Rows, shifted, b);
        Assert.NotEqual(a, b);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void LogProbAndInputGradient_is_log_p_and_its_finite_difference_gradient_in_the_clients_units(string json)
    {
        // A standardization with unequal scales and a context: the score must include both.
        var normalization = new Standardization([0.5f, -1f, 2f], [2f, 0.5f, 3f]);
        var flow = NormalizingFlow.Create(FlowSpec.Parse(json.Replace("{", "{\"contextFeatures\":2,", StringComparison.Ordinal)), Features, 2, seed: 10, normalization);
        float[] x = Data(seed: 11).Select((v, i) => v * normalization.Std[i % Features] + normalization.Mean[i % Features]).ToArray();
        float[] context = Data(seed: 12).Take(Rows * 2).ToArray();
        var logProb = new float[Rows];
        var score = new float[x.Length];
        flow.LogProbAndInputGradient(x, Rows, context, logProb, score);

        var inference = new float[Rows];
        flow.LogProb(x, Rows, context, inference);
        for (int r = 0; r < Rows; r++)
            Assert.Equal(inference[r], logProb[r], 4);
        Assert.Contains(score, g => Math.Abs(g) > 0.1f);

        var plus = new float[Rows];
        var minus = new float[Rows];
        for (int i = 0; i < x.Length; i++)
        {
            int row = i / Features;
            var tried = new List<string>();
            // Steps of 1e-2 of the column's scale first: float32 log p (~1e-6 rounding) over 2h keeps the quotient's
            // noise near 1e-4. A spline's log-derivative has a kink at each knot (d²y/dx² jumps there), and a knot
            // between x - h and x + h averages the two sides, so smaller steps are tried before the row fails.
            foreach (float step in new[] { 1e-2f, 1e-3f, 3e-4f })
            {
                float h = step * normalization.Std[i % Features], original = x[i];
                x[i] = original + h;
                flow.LogProb(x, Rows, context, plus);
                x[i] = original - h;
                flow.LogProb(x, Rows, context, minus);
                x[i] = original;
                // Only its own row moves: rows are scored independently.
                for (int r = 0; r < Rows; r++)
                    if (r != row)
                        Assert.Equal(plus[r], minus[r]);
                double numeric = ((double)plus[row] - minus[row]) / (2.0 * h);
                tried.Add($"{numeric:g6} (h {h:g2})");
                if (Math.Abs(numeric - score[i]) <= 2e-3 + 2e-2 * Math.Abs(numeric))
                    break;
                Assert.True(tried.Count < 3, $"x[{row}, {i % Features}]: analytic {score[i]}, finite differences {string.Join(", ", tried)}");
            }
        }
    }

    [Theory]
    [InlineData("""{"type":"maf","layer":3}""", "layer")]
    [InlineData("""{"type":"glowing"}""", "type")]
    [InlineData("""{"type":"nsf","bins":1}""", "bins")]
    [InlineData("""{"type":"nsf","tailBound":-1}""", "tailBound")]
    [InlineData("""{"type":"nsf","variant":"sideways"}""", "variant")]
    [InlineData("""{"type":"maf","hidden":[64,"wide"]}""", "hidden")]
    [InlineData("""{"type":"maf","permutation":"shuffle"}""", "permutation")]
    [InlineData("""{"type":"realnvp","activation":"swish"}""", "activation")]
    [InlineData("""{"type":"maf","contextFeatures":3}""", "contextFeatures")]
    [InlineData("""{"type":"maf","scaleClamp":0}""", "scaleClamp")]
    [InlineData("""{"layers":3}""", "type")]
    public void Bad_specs_are_rejected_naming_the_field(string json, string field)
    {
        var error = Assert.Throws<FlowSpecException>(() => NormalizingFlow.Create(FlowSpec.Parse(json), Features, 0, seed: 1));
        Assert.Equal(field, error.Field);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    private static float[] Data(int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, Rows * Features).Select(_ => (float)(2 * random.NextDouble() - 1) * 1.5f).ToArray();
    }
}
