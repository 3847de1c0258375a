using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Training.Optimization;

namespace FlowService.Training.Tests.Optimization;

public sealed class AdamWTests
{
    private static readonly CpuBackend Cpu = CpuBackend.Instance;

    private static Tensor Upload(params float[] values)
    {
        var t = Cpu.Allocate(1, values.Length);
        Cpu.Upload(values, t);
        return t;
    }

    [Theory]
    [InlineData(0.0, 0.9)]      // Adam: the first step moves by lr · sign(g), as m̂/√v̂ = g/|g|.
    [InlineData(0.01, 0.899)]   // AdamW: p · (1 − lr·wd) first, decoupled from the gradient: 1 · 0.999 − 0.1.
    public void First_step_matches_the_hand_computed_value(double weightDecay, float expected)
    {
        var p = Upload(1f);
        var g = Upload(0.5f);
        var adam = new AdamW(Cpu, 1, new AdamWOptions { WeightDecay = weightDecay });
        adam.Update(p, g, learningRate: 0.1);
        Assert.Equal(expected, p.Span()[0], 6);
        Assert.Equal(0.05f, adam.FirstMoment.Span()[0], 7);    // (1 − 0.9) · 0.5
        Assert.Equal(0.00025f, adam.SecondMoment.Span()[0], 9); // (1 − 0.999) · 0.25
        Assert.Equal(1, adam.Step);
    }

    /// <summary>Expected values printed by torch 1.13 (torch.optim.Adam / AdamW, lr 0.01) for the same three gradients.</summary>
    [Theory]
    [InlineData(0.0, new[] { 0.99022865f, -1.9902287f, 0.49022862f, 2.9902284f, -0.24022862f })]
    [InlineData(0.05, new[] { 0.9887375f, -1.9872382f, 0.48948714f, 2.9857385f, -0.23986197f })]
    public void Three_steps_match_PyTorch(double weightDecay, float[] expected)
    {
        var p = Upload(1f, -2f, 0.5f, 3f, -0.25f);
        var adam = new AdamW(Cpu, 5, new AdamWOptions { WeightDecay = weightDecay });
        float[] baseGradient = [0.5f, -1.5f, 2f, 0.001f, -0.3f];
        for (int s = 0; s < 3; s++)
        {
            float factor = (s + 1) * (s % 2 == 0 ? 1 : -1);
            adam.Update(p, Upload(baseGradient.Select(v => v * factor).ToArray()), 0.01);
        }
        // torch's vectorized kernels may fuse multiply-adds, so allow a few float32 ulps (4e-7 relative).
        for (int i = 0; i < 5; i++)
            Assert.True(Math.Abs(expected[i] - p.Span()[i]) <= 4e-7 * Math.Abs(expected[i]),
                $"element {i}: {p.Span()[i]:R} vs torch {expected[i]:R}");
        float[] v = [0.0034985002f, 0.031486504f, 0.055976003f, 1.3994002e-08f, 0.0012594602f];
        for (int i = 0; i < 5; i++)
            Assert.Equal(v[i], adam.SecondMoment.Span()[i], 1e-6f * v[i]);
    }

    [Fact]
    public void Fifty_steps_follow_a_float64_reference()
    {
        const int n = 300, steps = 50;
        const double lr = 3e-3, wd = 0.02, b1 = 0.9, b2 = 0.999, eps = 1e-8;
        var random = new Random(11);
        double[] p = Enumerable.Range(0, n).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        double[] m = new double[n], v = new double[n];
        var parameters = Upload(p.Select(x => (float)x).ToArray());
        var adam = new AdamW(Cpu, n, new AdamWOptions { WeightDecay = wd });
        for (int t = 1; t <= steps; t++)
        {
            // Gradients of a quadratic bowl plus noise, spanning six orders of magnitude.
            float[] g = p.Select((x, i) => (float)((x - 0.3) * Math.Pow(10, i % 6 - 3) + (random.NextDouble() - 0.5) * 1e-3)).ToArray();
            adam.Update(parameters, Upload(g), lr);
            for (int i = 0; i < n; i++)
            {
                p[i] *= 1 - lr * wd;
                m[i] = b1 * m[i] + (1 - b1) * g[i];
                v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
                p[i] -= lr / (1 - Math.Pow(b1, t)) * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(b2, t)) + eps);
            }
            // Track the float run: the reference continues from where float32 is, so errors do not compound.
            for (int i = 0; i < n; i++)
            {
                Assert.True(Math.Abs(p[i] - parameters.Span()[i]) <= 2e-6 * Math.Max(1, Math.Abs(p[i])), $"step {t}, element {i}: {parameters.Span()[i]} vs {p[i]}");
                p[i] = parameters.Span()[i];
            }
        }
    }

    [Fact]
    public void Restore_continues_exactly_where_the_saved_optimizer_stopped()
    {
        var random = new Random(3);
        float[] Gradient() => Enumerable.Range(0, 7).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        float[][] gradients = Enumerable.Range(0, 6).Select(_ => Gradient()).ToArray();
        var straight = Upload(new float[7]);
        var a = new AdamW(Cpu, 7, new AdamWOptions { WeightDecay = 0.1 });
        foreach (var g in gradients)
            a.Update(straight, Upload(g), 0.01);

        var resumed = Upload(new float[7]);
        var first = new AdamW(Cpu, 7, new AdamWOptions { WeightDecay = 0.1 });
        foreach (var g in gradients[..3])
            first.Update(resumed, Upload(g), 0.01);
        var second = new AdamW(Cpu, 7, new AdamWOptions { WeightDecay = 0.1 });
        second.Restore(first.Step, first.FirstMoment.Span().ToArray(), first.SecondMoment.Span().ToArray());
        foreach (var g in gradients[3..])
            second.Update(resumed, Upload(g), 0.01);
        Assert.Equal(straight.Span().ToArray(), resumed.Span().ToArray());
    }
}
