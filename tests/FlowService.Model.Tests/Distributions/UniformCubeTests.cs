using FlowService.Model.Distributions;

namespace FlowService.Model.Tests.Distributions;

/// <summary>The uniform density on [0, high)^D: its exact log density, its support's edges, and exact sampling.</summary>
public sealed class UniformCubeTests
{
    [Fact]
    public void Log_density_is_minus_d_log_high_inside_and_minus_infinity_outside()
    {
        var cube = new UniformCube(3, 256);
        float[] x = [0f, 128.5f, 255.99f, /* on the upper edge: outside */ 10f, 256f, 3f, /* below 0 */ -1e-6f, 4f, 5f, float.NaN, 1f, 2f];
        var logProb = new double[4];

        cube.LogDensity(x, 4, logProb);

        Assert.Equal(-3 * Math.Log(256), logProb[0], 12);
        Assert.Equal(-3 * 8 * Math.Log(2), logProb[0], 12);
        Assert.Equal(double.NegativeInfinity, logProb[1]);
        Assert.Equal(double.NegativeInfinity, logProb[2]);
        Assert.Equal(double.NegativeInfinity, logProb[3]);
    }

    [Fact]
    public void Samples_are_uniform_inside_the_cube_whatever_the_temperature()
    {
        const int n = 40_000;
        foreach (float temperature in new[] { 1f, 0.5f })
        {
            var cube = new UniformCube(2, 4);
            var random = new Random(7);
            var row = new float[2];
            double sum = 0, squares = 0;
            for (int i = 0; i < n; i++)
            {
                cube.SampleRow(random, temperature, row);
                Assert.All(row, v => Assert.InRange(v, 0f, MathF.BitDecrement(4f)));
                sum += row[0];
                squares += row[0] * (double)row[0];
            }
            // U[0, 4): mean 2, variance 16/12; four standard errors.
            double mean = sum / n, variance = squares / n - mean * mean;
            Assert.True(Math.Abs(mean - 2) < 4 * Math.Sqrt(16.0 / 12 / n), $"mean {mean}");
            Assert.True(Math.Abs(variance - 16.0 / 12) < 0.03, $"variance {variance}");
        }
    }

    [Fact]
    public void A_draw_that_rounds_up_to_the_edge_stays_inside()
    {
        // A generator whose every draw is the largest double below 1, and an edge between two floats nearer the upper one
        // (1 + 1e-7 lies between 1 and 1 + 2^-23): the draw rounds to that float, which is past the edge.
        var cube = new UniformCube(1, 1.0000001);
        Assert.True((float)(Math.BitDecrement(1.0) * cube.High) > cube.High);
        var row = new float[1];
        cube.SampleRow(new LargestDraw(), 1f, row);
        var logProb = new double[1];
        cube.LogDensity(row, 1, logProb);
        Assert.True(double.IsFinite(logProb[0]), $"draw {row[0]} is outside [0, {cube.High})");
    }

    [Theory]
    [InlineData(0, 256.0)]
    [InlineData(4, 0.0)]
    [InlineData(4, -1.0)]
    [InlineData(4, double.PositiveInfinity)]
    [InlineData(4, double.NaN)]
    public void Invalid_shapes_are_refused(int features, double high) =>
        Assert.Throws<ArgumentException>(() => new UniformCube(features, high));

    private sealed class LargestDraw : Random
    {
        public override double NextDouble() => Math.BitDecrement(1.0);
    }
}
