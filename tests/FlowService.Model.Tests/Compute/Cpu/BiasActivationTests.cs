using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>
/// The fused bias + activation kernels against double-precision scalar references at every row
/// length 0..257 (every Vector512 / Vector256 / scalar-tail split), in place and with too-short
/// destinations. Tolerance: |got − reference| ≤ 1e-6 · (1 + |reference|) per element; the bias
/// gradient, a sum over rows, within rows · 2⁻²³ · Σ|terms| + 1e-6.
/// </summary>
public sealed class BiasActivationTests
{
    private const int Rows = 3;

    public static TheoryData<FusedActivation> Activations => new() { FusedActivation.Identity, FusedActivation.Relu, FusedActivation.Tanh, FusedActivation.Elu };

    [Theory, MemberData(nameof(Activations))]
    public void Forward_matches_the_scalar_reference_at_every_length(FusedActivation activation)
    {
        for (int cols = 0; cols <= 257; cols++)
        {
            var (x, bias) = Inputs(cols, seed: cols);
            var y = new float[x.Length];
            BiasActivation.Forward(x, bias, y, activation);
            for (int i = 0; i < x.Length; i++)
            {
                double expected = Reference(activation, (double)x[i] + bias[i % cols]);
                AssertClose(expected, y[i], $"{activation} cols={cols} element {i} (x+b={x[i] + bias[i % cols]})");
            }
        }
    }

    [Theory, MemberData(nameof(Activations))]
    public void Backward_matches_the_analytic_derivative_at_every_length(FusedActivation activation)
    {
        for (int cols = 0; cols <= 257; cols++)
        {
            var (x, bias) = Inputs(cols, seed: 1000 + cols);
            var y = new float[x.Length];
            BiasActivation.Forward(x, bias, y, activation);
            var dy = Values(x.Length, new Random(cols), 1f);
            var dPre = new float[x.Length];
            var biasGradient = Values(cols, new Random(cols + 7), 1f);
            var expectedBias = biasGradient.Select(v => (double)v).ToArray();
            var magnitude = biasGradient.Select(v => (double)Math.Abs(v)).ToArray();

            BiasActivation.Backward(y, dy, dPre, biasGradient, activation);

            for (int i = 0; i < x.Length; i++)
            {
                // The derivative at the pre-activation, not through y: this checks the "from output" formulas too.
                double expected = dy[i] * Derivative(activation, (double)x[i] + bias[i % cols]);
                AssertClose(expected, dPre[i], $"{activation} cols={cols} dPre[{i}]");
                expectedBias[i % cols] += dPre[i];
                magnitude[i % cols] += Math.Abs(dPre[i]);
            }
            for (int j = 0; j < cols; j++)
            {
                double tolerance = (Rows + 1) * Math.Pow(2, -23) * magnitude[j] + 1e-6;
                Assert.True(Math.Abs(biasGradient[j] - expectedBias[j]) <= tolerance,
                    $"{activation} cols={cols} bias gradient [{j}] = {biasGradient[j]}, expected {expectedBias[j]}");
            }
        }
    }

    [Theory, MemberData(nameof(Activations))]
    public void In_place_calls_give_the_same_bits_as_separate_buffers(FusedActivation activation)
    {
        foreach (int cols in new[] { 1, 7, 8, 15, 16, 17, 24, 31, 33, 64, 100, 257 })
        {
            var (x, bias) = Inputs(cols, seed: cols);
            var separate = new float[x.Length];
            BiasActivation.Forward(x, bias, separate, activation);
            var inPlace = (float[])x.Clone();
            BiasActivation.Forward(inPlace, bias, inPlace, activation);
            Assert.Equal(separate, inPlace);

            var dy = Values(x.Length, new Random(cols), 1f);
            var dPre = new float[x.Length];
            var gradSeparate = new float[cols];
            BiasActivation.Backward(separate, dy, dPre, gradSeparate, activation);
            var dyInPlace = (float[])dy.Clone();
            var gradInPlace = new float[cols];
            BiasActivation.Backward(separate, dyInPlace, dyInPlace, gradInPlace, activation);
            Assert.Equal(dPre, dyInPlace);
            Assert.Equal(gradSeparate, gradInPlace);
        }
    }

    [Theory, MemberData(nameof(Activations))]
    public void Too_short_destinations_are_rejected_without_writing(FusedActivation activation)
    {
        foreach (int cols in new[] { 1, 8, 17, 257 })
        {
            var (x, bias) = Inputs(cols, seed: cols);
            var y = new float[x.Length - 1];
            var error = Assert.Throws<ArgumentException>(() => BiasActivation.Forward(x, bias, y, activation));
            Assert.Contains("too short", error.Message);
            Assert.All(y, v => Assert.Equal(0f, v));

            var dPre = new float[x.Length - 1];
            Assert.Throws<ArgumentException>(() => BiasActivation.Backward(x, x, dPre, new float[cols], activation));
            Assert.All(dPre, v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void Inputs_that_are_not_whole_rows_of_the_bias_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => BiasActivation.Forward(new float[10], new float[3], new float[10], FusedActivation.Relu));
        Assert.Throws<ArgumentException>(() => BiasActivation.Forward(new float[2], ReadOnlySpan<float>.Empty, new float[2], FusedActivation.Relu));
        Assert.Throws<ArgumentException>(() => BiasActivation.Backward(new float[6], new float[5], new float[6], new float[3], FusedActivation.Tanh));
    }

    [Fact]
    public void Tanh_and_elu_saturate_exactly_at_large_inputs()
    {
        float[] x = { -200f, -30f, -10f, 10f, 30f, 200f, 0f, -0f };
        var bias = new float[x.Length];
        var y = new float[x.Length];
        // One row of 8 floats: the Vector256 path; 16 copies: the Vector512 path.
        foreach (var row in new[] { x, Enumerable.Repeat(x, 2).SelectMany(v => v).ToArray() })
        {
            var b = new float[row.Length];
            var t = new float[row.Length];
            BiasActivation.Forward(row, b, t, FusedActivation.Tanh);
            for (int i = 0; i < row.Length; i++)
                AssertClose(Math.Tanh(row[i]), t[i], $"tanh({row[i]})");
            Assert.All(t, v => Assert.InRange(v, -1f, 1f));
            var e = new float[row.Length];
            BiasActivation.Forward(row, b, e, FusedActivation.Elu);
            for (int i = 0; i < row.Length; i++)
                AssertClose(row[i] > 0 ? row[i] : Math.Exp(row[i]) - 1, e[i], $"elu({row[i]})");
        }
    }

    private static (float[] X, float[] Bias) Inputs(int cols, int seed)
    {
        var random = new Random(seed);
        var x = Values(Rows * cols, random, 4f);
        // A few saturating values so tanh's and ELU's limits go through every code path.
        for (int i = 0; i < x.Length; i += 13)
            x[i] *= 8f;
        return (x, Values(cols, random, 1f));
    }

    private static float[] Values(int length, Random random, float scale) =>
        Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale).ToArray();

    private static double Reference(FusedActivation activation, double x) => activation switch
    {
        FusedActivation.Identity => x,
        FusedActivation.Relu => Math.Max(x, 0),
        FusedActivation.Tanh => Math.Tanh(x),
        FusedActivation.Elu => x > 0 ? x : Math.Exp(x) - 1,
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };

    private static double Derivative(FusedActivation activation, double x) => activation switch
    {
        FusedActivation.Identity => 1,
        FusedActivation.Relu => x > 0 ? 1 : 0,
        FusedActivation.Tanh => 1 - Math.Tanh(x) * Math.Tanh(x),
        FusedActivation.Elu => x > 0 ? 1 : Math.Exp(x),
        _ => throw new ArgumentOutOfRangeException(nameof(activation)),
    };

    private static void AssertClose(double expected, float actual, string what)
    {
        if (!(Math.Abs(actual - expected) <= 1e-6 * (1 + Math.Abs(expected))))
            Assert.Fail($"{what}: got {actual}, expected {expected}");
    }
}
