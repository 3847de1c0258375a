using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Transforms;

/// <summary>The logistic-mixture CDF's own edges: identity at zero, the bisection inverse to its tolerance deep in the tails, the log-scale floor.</summary>
public sealed class LogisticMixtureCdfLeafTests
{
    [Fact]
    public void Zero_parameters_are_the_identity_with_zero_log_det()
    {
        var logPi = new double[3];
        LogisticMixtureCdf.LogWeights(new float[3], logPi);
        foreach (double x in new[] { -40.0, -3.2, 0, 1e-6, 2.5, 35 })
        {
            var (u, logDerivative) = LogisticMixtureCdf.Evaluate(x, logPi, new float[3], new float[3]);
            Assert.Equal(x, u, 9);
            Assert.Equal(0, logDerivative, 9);
        }
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.7)]
    [InlineData(-12.0)]
    [InlineData(25.0)]
    [InlineData(-300.0)]
    public void The_bisection_inverse_meets_its_documented_tolerance(double x)
    {
        float[] logits = [0.3f, -1.2f, 0.8f, 0f], means = [-2f, 0.5f, 3f, 10f], logScales = [-1f, 0.4f, -8f, 1.5f];
        var logPi = new double[4];
        LogisticMixtureCdf.LogWeights(logits, logPi);
        var (u, _) = LogisticMixtureCdf.Evaluate(x, logPi, means, logScales);
        Assert.True(double.IsFinite(u), $"logit at {x} is {u}");
        double back = LogisticMixtureCdf.Invert(u, logPi, means, logScales);
        Assert.True(Math.Abs(back - x) <= 1e-9 * Math.Max(1, Math.Abs(x)), $"{x} -> {u} -> {back}");
    }

    [Fact]
    public void Log_scales_below_the_floor_act_as_the_floor_and_get_no_gradient()
    {
        var logPi = new double[2];
        LogisticMixtureCdf.LogWeights([0f, 0f], logPi);
        var floored = LogisticMixtureCdf.Evaluate(0.001, logPi, [0f, 1f], [-7f, 0f]);
        var below = LogisticMixtureCdf.Evaluate(0.001, logPi, [0f, 1f], [-20f, 0f]);
        Assert.Equal(floored, below);
        var gLogScales = new double[2];
        LogisticMixtureCdf.Backward(0.001, 0.2, 3, [0f, 0f], [0f, 1f], [-20f, 0f], 1, 1, out _, out _, new double[2], new double[2], gLogScales);
        Assert.Equal(0, gLogScales[0]);
        Assert.NotEqual(0, gLogScales[1]);
    }
}
