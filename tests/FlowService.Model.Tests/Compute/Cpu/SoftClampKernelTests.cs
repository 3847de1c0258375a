using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary><see cref="SoftClampKernel"/> (the affine leaf's vector tanh/exp) against its scalar reference.</summary>
public sealed class SoftClampKernelTests
{
    // s = c·tanh(u/c) is only added to log-determinants and exponentiated, so its error is stated
    // absolutely, relative to the clamp c; exp(±s) relatively. float32 tanh/exp are good to ~1e-7.
    private const float ScaleTolerance = 1e-6f;
    private const float FactorTolerance = 2e-6f;

    [Theory]
    [InlineData(3f, 1f)]
    [InlineData(3f, -1f)]
    [InlineData(0.5f, 1f)]
    public void Every_length_0_to_257_matches_the_reference(float clamp, float sign)
    {
        var random = new Random(7);
        for (int n = 0; n <= 257; n++)
        {
            // Raw values from tiny to far past the clamp, both signs, zero included.
            var raw = Enumerable.Range(0, n).Select(i => i % 17 == 0 ? 0f : (float)((random.NextDouble() - 0.5) * Math.Pow(10, random.Next(-6, 3)))).ToArray();
            var (scale, factor) = (new float[n], new float[n]);
            var (expectedScale, expectedFactor) = (new float[n], new float[n]);
            SoftClampKernel.Apply(raw, clamp, sign, scale, factor);
            SoftClampKernel.Reference(raw, clamp, sign, expectedScale, expectedFactor);
            for (int i = 0; i < n; i++)
            {
                Assert.True(Math.Abs(scale[i] - expectedScale[i]) <= ScaleTolerance * clamp, $"n={n} i={i} raw={raw[i]}: s {scale[i]} vs {expectedScale[i]}");
                Assert.True(Math.Abs(factor[i] - expectedFactor[i]) <= FactorTolerance * expectedFactor[i], $"n={n} i={i} raw={raw[i]}: exp {factor[i]} vs {expectedFactor[i]}");
                Assert.Equal(Math.Sign(expectedScale[i]), Math.Sign(scale[i]));
            }
        }
    }

    [Fact]
    public void The_scale_may_overwrite_the_raw_values_in_place()
    {
        var raw = Enumerable.Range(0, 37).Select(i => (i - 18) * 0.37f).ToArray();
        var expected = new float[raw.Length];
        var expectedFactor = new float[raw.Length];
        SoftClampKernel.Apply(raw, 3f, 1f, expected, expectedFactor);
        var factor = new float[raw.Length];
        SoftClampKernel.Apply(raw, 3f, 1f, raw, factor);
        Assert.Equal(expected, raw);
        Assert.Equal(expectedFactor, factor);
    }

    [Fact]
    public void Saturated_and_nan_inputs_stay_bounded_or_nan()
    {
        var raw = new[] { 1e30f, -1e30f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, -0f, 0f, 1e-30f, 5f };
        var (scale, factor) = (new float[raw.Length], new float[raw.Length]);
        SoftClampKernel.Apply(raw, 3f, 1f, scale, factor);
        Assert.Equal(new[] { 3f, -3f, 3f, -3f }, scale[..4]);
        Assert.True(float.IsNaN(scale[4]) && float.IsNaN(factor[4]));
        Assert.Equal(0f, scale[5]);
        Assert.Equal(1f, factor[6]);
        Assert.Equal(MathF.Exp(3f), factor[0], 5);
    }

    [Fact]
    public void A_too_short_destination_is_rejected_before_any_write()
    {
        var scale = new float[4];
        var factor = new float[5];
        Assert.Throws<ArgumentException>(() => SoftClampKernel.Apply(new float[5], 3f, 1f, scale, factor));
        Assert.Throws<ArgumentException>(() => SoftClampKernel.Apply(new float[5], 3f, 1f, factor, scale));
        Assert.Equal(new float[4], scale);
    }
}
