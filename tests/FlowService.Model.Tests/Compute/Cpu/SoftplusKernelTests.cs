using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary><see cref="SoftplusKernel"/> (the spline's knot derivatives, eight at a time) against its scalar reference.</summary>
public sealed class SoftplusKernelTests
{
    private static readonly float Shift = (float)RationalQuadraticSpline.DerivativeShift;
    private const float Minimum = 1e-3f;

    [Fact]
    public void Every_length_0_to_257_matches_the_reference()
    {
        var random = new Random(3);
        for (int n = 0; n <= 257; n++)
        {
            // From far below (softplus ~ e^v, below float's 1 + e resolution) to far above, zero included.
            var u = Enumerable.Range(0, n).Select(i => i % 13 == 0 ? 0f : (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-4, 3)))).ToArray();
            var (d, s, expectedD, expectedS) = (new float[n], new float[n], new float[n], new float[n]);
            SoftplusKernel.Apply(u, Shift, Minimum, d, s);
            SoftplusKernel.Reference(u, Shift, Minimum, expectedD, expectedS);
            for (int i = 0; i < n; i++)
            {
                Assert.True(Math.Abs(d[i] - expectedD[i]) <= 5e-7f * expectedD[i], $"n={n} i={i} u={u[i]}: d {d[i]} vs {expectedD[i]}");
                Assert.True(Math.Abs(s[i] - expectedS[i]) <= 5e-7f * expectedS[i] + 1e-30f, $"n={n} i={i} u={u[i]}: sigmoid {s[i]} vs {expectedS[i]}");
            }
        }
    }

    [Fact]
    public void Tiny_softplus_keeps_its_relative_precision_and_the_sigmoid_is_optional()
    {
        var u = new[] { -30f, -20f, -17f, 0f, 20f, 100f, float.NaN, -float.PositiveInfinity, float.PositiveInfinity };
        var d = new float[u.Length];
        SoftplusKernel.Apply(u, 0f, 0f, d, Span<float>.Empty);
        Assert.Equal(MathF.Exp(-30f), d[0], MathF.Exp(-30f) * 1e-6f);
        Assert.Equal(MathF.Exp(-17f), d[2], MathF.Exp(-17f) * 1e-6f);
        Assert.Equal(MathF.Log(2f), d[3], 1e-7f);
        Assert.Equal(100f, d[5]);
        Assert.True(float.IsNaN(d[6]));
        Assert.Equal(0f, d[7]);
        Assert.Equal(float.PositiveInfinity, d[8]);
    }

    [Fact]
    public void Outputs_may_overwrite_the_input_and_too_short_destinations_are_refused()
    {
        var u = Enumerable.Range(0, 29).Select(i => (i - 14) * 0.61f).ToArray();
        var (expectedD, expectedS) = (new float[u.Length], new float[u.Length]);
        SoftplusKernel.Apply(u, Shift, Minimum, expectedD, expectedS);
        var inPlace = (float[])u.Clone();
        var s = new float[u.Length];
        SoftplusKernel.Apply(inPlace, Shift, Minimum, inPlace, s);
        Assert.Equal(expectedD, inPlace);
        Assert.Equal(expectedS, s);
        Assert.Throws<ArgumentException>(() => SoftplusKernel.Apply(u, Shift, Minimum, new float[u.Length - 1], Span<float>.Empty));
        Assert.Throws<ArgumentException>(() => SoftplusKernel.Apply(u, Shift, Minimum, new float[u.Length], new float[u.Length - 1]));
    }
}
