namespace FlowService.Training.Tests.Fitting;

/// <summary>
/// The 2-D density-estimation benchmarks of the flow literature (FFJORD's toy sets), generated
/// from <see cref="PortableRandom"/> in double and rounded to float32, exactly as
/// tools/reference/toy_datasets.py generates them, so both sides see bit-identical rows.
/// Each returns <c>rows</c> x 2 values, row-major.
/// </summary>
public static class ToyDatasets
{
    public static readonly string[] Names = ["two-moons", "checkerboard", "8-gaussians"];

    public static float[] Generate(string name, int rows, ulong seed)
    {
        var random = new PortableRandom(seed);
        Func<PortableRandom, (double X, double Y)> point = name switch
        {
            "two-moons" => TwoMoons,
            "checkerboard" => Checkerboard,
            "8-gaussians" => EightGaussians,
            _ => throw new ArgumentException($"Unknown toy dataset '{name}'.", nameof(name)),
        };
        var values = new float[rows * 2];
        for (int r = 0; r < rows; r++)
        {
            var (x, y) = point(random);
            values[2 * r] = (float)x;
            values[2 * r + 1] = (float)y;
        }
        return values;
    }

    /// <summary>sklearn's make_moons with noise 0.1: a uniform angle on one of two interleaved half circles.</summary>
    public static (double X, double Y) TwoMoons(PortableRandom random)
    {
        int moon = random.NextInt(2);
        double t = Math.PI * random.NextDouble();
        double x = moon == 0 ? Math.Cos(t) : 1.0 - Math.Cos(t);
        double y = moon == 0 ? Math.Sin(t) : 0.5 - Math.Sin(t);
        x += 0.1 * random.NextNormal();
        y += 0.1 * random.NextNormal();
        return (x, y);
    }

    /// <summary>
    /// FFJORD's checkerboard: uniform on 8 of the 16 squares (side 2) of a 4 x 4 board on [-4, 4]²,
    /// so the true density is 1/32 on its support and the entropy is log 32.
    /// </summary>
    public static (double X, double Y) Checkerboard(PortableRandom random)
    {
        double x = 4.0 * random.NextDouble() - 2.0;
        double y = random.NextDouble() - 2.0 * random.NextInt(2);
        y += ((int)Math.Floor(x) % 2 + 2) % 2;
        return (2.0 * x, 2.0 * y);
    }

    /// <summary>The centres of <see cref="EightGaussians"/> before scaling: the unit circle at angles kπ/4.</summary>
    public static readonly (double X, double Y)[] EightCentres = Centres();

    /// <summary>The scale and the per-component standard deviation of FFJORD's 8-gaussians: (4c + 0.5ε) / 1.414.</summary>
    public const double EightRadius = 4.0 / 1.414, EightStd = 0.5 / 1.414;

    /// <summary>FFJORD's 8-gaussians: an equal mixture of isotropic normals on a circle.</summary>
    public static (double X, double Y) EightGaussians(PortableRandom random)
    {
        var (cx, cy) = EightCentres[random.NextInt(8)];
        double x = 4.0 * cx + 0.5 * random.NextNormal();
        double y = 4.0 * cy + 0.5 * random.NextNormal();
        return (x / 1.414, y / 1.414);
    }

    /// <summary>The exact log density of <see cref="EightGaussians"/> at (x, y).</summary>
    public static double EightGaussiansLogDensity(double x, double y)
    {
        double max = double.NegativeInfinity;
        var terms = new double[8];
        for (int k = 0; k < 8; k++)
        {
            double dx = x - EightRadius * EightCentres[k].X, dy = y - EightRadius * EightCentres[k].Y;
            terms[k] = -(dx * dx + dy * dy) / (2 * EightStd * EightStd);
            max = Math.Max(max, terms[k]);
        }
        double sum = terms.Sum(t => Math.Exp(t - max));
        return max + Math.Log(sum / 8) - Math.Log(2 * Math.PI * EightStd * EightStd);
    }

    private static (double, double)[] Centres()
    {
        double s = Math.Sqrt(0.5);
        return [(1, 0), (s, s), (0, 1), (-s, s), (-1, 0), (-s, -s), (0, -1), (s, -s)];
    }
}
