using FlowService.Model.Checkpoints;
using FlowService.Model.Flows;
using Xunit.Abstractions;

namespace FlowService.Model.Tests.Parity;

/// <summary>
/// The Flow++ pieces against PyTorch 1.13 (tools/reference/make_fixtures.py --only flowpp,realnvp_attention, computed
/// in float64 from the stored float32 numbers): the logistic-mixture CDF couplings (flow type "flowpp") and RealNVP
/// with the gated self-attention conditioner ("conditioner": "attention"); log p per row and every dL/dθ.
/// </summary>
public sealed class FlowPlusPlusParityTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("flowpp")]
    [InlineData("flowpp_conditional")]
    [InlineData("realnvp_attention")]
    [InlineData("realnvp_attention_conditional")]
    public void Log_prob_and_gradients_match_PyTorch(string name)
    {
        var fixture = ParityFixture.Load(name);
        int batch = fixture.Batch, d = fixture.Features, c = fixture.ContextFeatures;
        var flow = NormalizingFlow.Create(FlowSpec.Parse(fixture.SpecJson), d, c, seed: 1);
        var weights = new SafeTensorsFile(fixture.ParameterNames.Select(n => new SafeTensor(n, fixture.Shape(n), fixture[n])));
        flow.SetParameters(ParameterTensors.ToArena(flow.Layout, weights));
        float[] x = fixture["x"];
        float[] context = c > 0 ? fixture["context"] : [];

        var report = new ParityReport(output, $"{name} vs PyTorch");
        var logProb = new float[batch];
        flow.LogProb(x, batch, context, logProb);
        report.Compare("log_prob", logProb, fixture["log_prob"]);

        var gradient = new float[flow.Layout.Length];
        double loss = flow.LossAndGradient(x, batch, context, gradient);
        Assert.Equal(-fixture["log_prob"].Average(v => (double)v), loss, 4);
        foreach (string parameter in fixture.ParameterNames)
        {
            Assert.True(flow.Layout.TryGet(parameter, out var slot), $"the C# flow has no parameter {parameter}");
            var actual = gradient.AsSpan(slot.Offset, slot.Rows * slot.Cols);
            if (parameter.EndsWith("attention.key.bias", StringComparison.Ordinal))
            {
                // Exactly zero in exact arithmetic (a shared shift of every key moves a row's scores by one constant, which
                // softmax ignores): both sides hold rounding noise, so it is checked against zero on the gradient's scale.
                foreach (float g in actual)
                    Assert.True(Math.Abs(g) < 1e-5f, $"{parameter}: {g} should be rounding noise around 0");
                continue;
            }
            report.Compare("grad." + parameter, actual, fixture["grad." + parameter]);
        }
        report.AssertAllWithinTolerance();
    }
}
