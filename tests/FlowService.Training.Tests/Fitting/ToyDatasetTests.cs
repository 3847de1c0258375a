namespace FlowService.Training.Tests.Fitting;

/// <summary>The portable generator and the toy sets are what they claim to be, independently of the PyTorch fixture.</summary>
public sealed class ToyDatasetTests
{
    [Fact]
    public void SplitMix64_gives_the_reference_sequence()
    {
        // Rosetta Code's "Pseudo-random numbers/Splitmix64" test vector (seed 1234567).
        var random = new PortableRandom(1234567);
        ulong[] expected = [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821];
        Assert.Equal(expected, Enumerable.Range(0, 5).Select(_ => random.NextUInt64()).ToArray());
    }

    [Fact]
    public void Normals_have_zero_mean_and_unit_variance()
    {
        var random = new PortableRandom(5);
        var draws = Enumerable.Range(0, 100_000).Select(_ => random.NextNormal()).ToArray();
        double mean = draws.Average(), variance = draws.Average(v => (v - mean) * (v - mean));
        Assert.InRange(mean, -0.015, 0.015);
        Assert.InRange(variance, 0.98, 1.02);
    }

    [Fact]
    public void Checkerboard_rows_lie_on_its_eight_black_squares_in_equal_shares()
    {
        var rows = ToyDatasets.Generate("checkerboard", 40_000, 3);
        var counts = new int[16];
        for (int r = 0; r < 40_000; r++)
        {
            int column = (int)Math.Floor(rows[2 * r] / 2) + 2, row = (int)Math.Floor(rows[2 * r + 1] / 2) + 2;
            Assert.InRange(column, 0, 3);
            Assert.InRange(row, 0, 3);
            Assert.True((column + row) % 2 == 0, $"row {r} ({rows[2 * r]}, {rows[2 * r + 1]}) is on a white square");
            counts[row * 4 + column]++;
        }
        // Each black square holds 1/8 of the rows: 5000 ± 3 binomial standard deviations (~66).
        Assert.All(counts.Where((_, i) => (i / 4 + i % 4) % 2 == 0), c => Assert.InRange(c, 4800, 5200));
    }

    [Fact]
    public void Eight_gaussians_rows_have_the_mixtures_entropy()
    {
        var rows = ToyDatasets.Generate("8-gaussians", 40_000, 3);
        var nll = Enumerable.Range(0, 40_000).Select(r => -ToyDatasets.EightGaussiansLogDensity(rows[2 * r], rows[2 * r + 1])).ToArray();
        double mean = nll.Average(), se = Math.Sqrt(nll.Average(v => (v - mean) * (v - mean)) / nll.Length);
        // Components 2.0 apart against a std of 0.354 barely overlap: H ≈ log 8 + log(2πe σ²).
        double separated = Math.Log(8) + Math.Log(2 * Math.PI * Math.E * ToyDatasets.EightStd * ToyDatasets.EightStd);
        Assert.True(Math.Abs(mean - separated) < 4 * se + 1e-3, $"mean NLL {mean:F4} ± {se:F4}, separated-mixture entropy {separated:F4}");
    }

    [Fact]
    public void Two_moons_rows_lie_near_their_half_circles()
    {
        var rows = ToyDatasets.Generate("two-moons", 20_000, 3);
        for (int r = 0; r < 20_000; r++)
        {
            double x = rows[2 * r], y = rows[2 * r + 1];
            // Distance to the nearer arc's circle: the outer moon is the unit circle at the origin, the inner one at (1, 0.5).
            double distance = Math.Min(Math.Abs(Math.Sqrt(x * x + y * y) - 1), Math.Abs(Math.Sqrt((x - 1) * (x - 1) + (y - 0.5) * (y - 0.5)) - 1));
            Assert.True(distance < 0.1 * 6, $"row {r} ({x}, {y}) is {distance:F3} from both moons");
        }
    }
}
