using System.Globalization;
using System.Text;
using System.Text.Json;
using FlowService.Model.Targets.Expressions;

namespace FlowService.Model.Targets;

/// <summary>
/// The named targets of reverse-KL fitting, each expanded to an expression of the target language (so the
/// gradient path is the same as for a user's expression) with its log Z where it is known:
/// <list type="bullet">
/// <item><c>gaussianMixture</c>: log Σ_k w_k exp(-|x - μ_k|² / 2σ²); parameters <c>components</c> (4),
/// <c>radius</c> (3; default means evenly on a circle in (x0, x1), or on a line when D = 1), <c>scale</c> σ (1),
/// <c>means</c> (K x D, replaces the circle), <c>weights</c> (K positive, default equal). log Z = log Σw + (D/2) log 2πσ².</item>
/// <item><c>funnel</c> (Neal 2003): x0 ~ N(0, σ²), x_i | x0 ~ N(0, e^{x0}); <c>scale</c> σ (3). log Z = ½ log 2πσ² + (D-1)/2 log 2π.</item>
/// <item><c>banana</c>: x0 ~ N(0, σ²), x1 | x0 ~ N(b (x0² - σ²), 1), the rest N(0, 1); <c>scale</c> σ (1), <c>curvature</c> b (1).
/// log Z = ½ log 2πσ² + (D-1)/2 log 2π.</item>
/// <item><c>ring</c>: -(|x| - r)² / 2σ²; <c>radius</c> r (2), <c>scale</c> σ (0.25). log Z by a radial quadrature.</item>
/// <item><c>twoMoons</c> (D = 2; Rezende and Mohamed 2015, U1): -½((|x| - 2)/0.4)² + log(e^{-½((x0-2)/0.6)²} + e^{-½((x0+2)/0.6)²}).
/// log Z by a grid quadrature.</item>
/// </list>
/// </summary>
public static class BuiltInTargets
{
    public static readonly IReadOnlyList<string> Names = ["gaussianMixture", "funnel", "banana", "ring", "twoMoons"];

    private static readonly double Log2Pi = Math.Log(2 * Math.PI);

    /// <summary>Builds <paramref name="name"/> in <paramref name="dimensions"/> dimensions; errors are <see cref="TargetSpecException"/>s naming the field.</summary>
    public static TargetDensity Create(string name, int dimensions, JsonElement? parameters)
    {
        var reader = new TargetParameters(parameters);
        var target = name switch
        {
            "gaussianMixture" => GaussianMixture(dimensions, reader),
            "funnel" => Funnel(dimensions, reader),
            "banana" => Banana(dimensions, reader),
            "ring" => Ring(dimensions, reader),
            "twoMoons" => TwoMoons(dimensions),
            _ => throw new TargetSpecException("name", $"Unknown target '{name}'; built-in targets: {string.Join(", ", Names)} (or give an \"expression\")."),
        };
        reader.RejectUnread();
        return target;
    }

    private static TargetDensity GaussianMixture(int d, TargetParameters p)
    {
        double scale = p.Number("scale", 1, 1e-3, 1e3);
        double[][] means;
        if (p.Has("means"))
        {
            means = p.Matrix("means", d);
            if (means.Length is < 1 or > 256)
                throw new TargetSpecException("parameters.means", $"'parameters.means' must hold 1 to 256 means, not {means.Length}.");
            if (p.Has("components") && p.Integer("components", 4, 1, 256) != means.Length)
                throw new TargetSpecException("parameters.components", "'parameters.components' disagrees with the number of 'parameters.means'.");
            if (p.Has("radius"))
                throw new TargetSpecException("parameters.radius", "'parameters.radius' places the default means; it cannot be combined with 'parameters.means'.");
        }
        else
        {
            int k = p.Integer("components", 4, 1, 256);
            double radius = p.Number("radius", 3, 0, 1e3);
            means = new double[k][];
            for (int c = 0; c < k; c++)
            {
                means[c] = new double[d];
                if (d == 1)
                    means[c][0] = k == 1 ? 0 : radius * (2.0 * c / (k - 1) - 1);
                else
                {
                    means[c][0] = radius * Math.Cos(2 * Math.PI * c / k);
                    means[c][1] = radius * Math.Sin(2 * Math.PI * c / k);
                }
            }
        }
        double[] weights = p.Has("weights") ? p.Vector("weights", means.Length) : Enumerable.Repeat(1.0, means.Length).ToArray();
        if (weights.Any(w => !(w > 0)))
            throw new TargetSpecException("parameters.weights", "Every mixture weight must be positive.");
        double total = weights.Sum();

        var text = new StringBuilder("logsumexp(");
        double inverseTwoVariance = 1 / (2 * scale * scale);
        for (int c = 0; c < means.Length; c++)
        {
            if (c > 0)
                text.Append(", ");
            text.Append(Number(Math.Log(weights[c]))).Append(" - ").Append(Number(inverseTwoVariance)).Append(" * (");
            AppendSquaredDistance(text, means[c]);
            text.Append(')');
        }
        text.Append(')');
        double logZ = Math.Log(total) + 0.5 * d * (Log2Pi + 2 * Math.Log(scale));
        return new TargetDensity("gaussianMixture", Compile(text.ToString(), d), logZ, means, weights.Select(w => w / total).ToArray());
    }

    /// <summary>|x - μ|², with the runs of zero coordinates written as one sum over a range.</summary>
    private static void AppendSquaredDistance(StringBuilder text, double[] mean)
    {
        bool first = true;
        for (int j = 0; j < mean.Length;)
        {
            if (!first)
                text.Append(" + ");
            first = false;
            if (mean[j] != 0)
            {
                text.Append("(x").Append(j).Append(" - ").Append(Number(mean[j])).Append(")^2");
                j++;
                continue;
            }
            int end = j;
            while (end + 1 < mean.Length && mean[end + 1] == 0)
                end++;
            text.Append(end == j ? $"x{j}^2" : $"sum(i={j}..{end}, x[i]^2)");
            j = end + 1;
        }
    }

    private static TargetDensity Funnel(int d, TargetParameters p)
    {
        RequireDimensions(d, 2, "funnel");
        double scale = p.Number("scale", 3, 1e-2, 100);
        string expression = $"-x0^2 / {Number(2 * scale * scale)} - {Number(0.5 * (d - 1))} * x0 - 0.5 * exp(-x0) * {SumOfSquares(1, d - 1)}";
        double logZ = 0.5 * (Log2Pi + 2 * Math.Log(scale)) + 0.5 * (d - 1) * Log2Pi;
        return new TargetDensity("funnel", Compile(expression, d), logZ);
    }

    private static TargetDensity Banana(int d, TargetParameters p)
    {
        RequireDimensions(d, 2, "banana");
        double scale = p.Number("scale", 1, 1e-2, 100);
        double curvature = p.Number("curvature", 1, -100, 100);
        string expression = $"-x0^2 / {Number(2 * scale * scale)} - 0.5 * (x1 - {Number(curvature)} * (x0^2 - {Number(scale * scale)}))^2";
        if (d > 2)
            expression += $" - 0.5 * {SumOfSquares(2, d - 1)}";
        double logZ = 0.5 * (Log2Pi + 2 * Math.Log(scale)) + 0.5 * (d - 1) * Log2Pi;
        return new TargetDensity("banana", Compile(expression, d), logZ);
    }

    private static TargetDensity Ring(int d, TargetParameters p)
    {
        double radius = p.Number("radius", 2, 0, 1e3);
        double scale = p.Number("scale", 0.25, 1e-3, 1e3);
        string expression = $"-(sqrt({SumOfSquares(0, d - 1)}) - {Number(radius)})^2 / {Number(2 * scale * scale)}";
        return new TargetDensity("ring", Compile(expression, d), RingLogNormalizer(d, radius, scale));
    }

    private static TargetDensity TwoMoons(int d)
    {
        if (d != 2)
            throw new TargetSpecException("dimensions", $"The twoMoons target is two-dimensional; 'dimensions' must be 2, not {d}.");
        return new TargetDensity("twoMoons", Compile(TwoMoonsExpression, 2), TwoMoonsLogNormalizer.Value);
    }

    private const string TwoMoonsExpression = "-0.5 * ((sqrt(x0^2 + x1^2) - 2) / 0.4)^2 + logsumexp(-0.5 * ((x0 - 2) / 0.6)^2, -0.5 * ((x0 + 2) / 0.6)^2)";

    /// <summary>
    /// A constant, worked out once: the 1000 x 1000 grid (a million evaluations, 8 MB) took tens of milliseconds of every
    /// POST /jobs that named this target (the "target" fuzz target spent most of its time there).
    /// </summary>
    private static readonly Lazy<double> TwoMoonsLogNormalizer = new(() => GridLogNormalizer(Compile(TwoMoonsExpression, 2), -5, 5, 1000));

    /// <summary>
    /// log ∫ exp(-(|x| - r)²/2σ²) dx = log S_{D-1} + log ∫₀^∞ ρ^{D-1} exp(-(ρ - r)²/2σ²) dρ, with S_{D-1} = 2π^{D/2}/Γ(D/2)
    /// and the radial integral by the trapezoidal rule over r ± 40σ (the integrand is smooth and negligible beyond).
    /// </summary>
    public static double RingLogNormalizer(int d, double radius, double scale)
    {
        double lower = Math.Max(0, radius - 40 * scale), upper = radius + 40 * scale;
        const int steps = 200_000;
        double h = (upper - lower) / steps;
        // Sum in a log-shifted frame: ρ^{D-1} can be large.
        double peak = double.NegativeInfinity;
        var logs = new double[steps + 1];
        for (int i = 0; i <= steps; i++)
        {
            double rho = lower + i * h;
            logs[i] = (rho == 0 ? (d == 1 ? 0 : double.NegativeInfinity) : (d - 1) * Math.Log(rho)) - (rho - radius) * (rho - radius) / (2 * scale * scale);
            peak = Math.Max(peak, logs[i]);
        }
        double sum = 0;
        for (int i = 0; i <= steps; i++)
            sum += (i == 0 || i == steps ? 0.5 : 1) * Math.Exp(logs[i] - peak);
        double logSphere = Math.Log(2) + 0.5 * d * Math.Log(Math.PI) - LogGammaHalf(d);
        return logSphere + peak + Math.Log(sum * h);
    }

    /// <summary>log Γ(d/2) for a positive integer d, from Γ(1) = 1, Γ(½) = √π and Γ(s + 1) = s Γ(s).</summary>
    private static double LogGammaHalf(int d)
    {
        double value = d % 2 == 0 ? 0 : 0.5 * Math.Log(Math.PI);
        for (double s = d % 2 == 0 ? 1 : 0.5; s < d / 2.0; s++)
            value += Math.Log(s);
        return value;
    }

    /// <summary>log ∫∫ exp(f) over [lo, hi]² by the trapezoidal rule on an n x n grid (for two-dimensional targets that decay inside it).</summary>
    public static double GridLogNormalizer(CompiledExpression expression, double lo, double hi, int n)
    {
        double h = (hi - lo) / (n - 1);
        var x = new float[n * 2];
        var values = new double[n];
        var logs = new double[n * n];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < n; j++)
            {
                x[2 * j] = (float)(lo + i * h);
                x[2 * j + 1] = (float)(lo + j * h);
            }
            expression.Evaluate(x, n, values, Span<double>.Empty);
            values.CopyTo(logs, i * n);
        }
        double peak = logs.Max(), sum = 0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                sum += (i == 0 || i == n - 1 ? 0.5 : 1) * (j == 0 || j == n - 1 ? 0.5 : 1) * Math.Exp(logs[i * n + j] - peak);
        return peak + Math.Log(sum * h * h);
    }

    private static void RequireDimensions(int d, int minimum, string name)
    {
        if (d < minimum)
            throw new TargetSpecException("dimensions", $"The {name} target needs at least {minimum} dimensions, not {d}.");
    }

    private static string SumOfSquares(int from, int to) => from == to ? $"x{from}^2" : $"sum(i={from}..{to}, x[i]^2)";

    private static string Number(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    private static CompiledExpression Compile(string expression, int d)
    {
        try
        {
            return CompiledExpression.Compile(expression, d);
        }
        catch (ExpressionException e)
        {
            throw new InvalidOperationException($"A built-in target expanded to an invalid expression ({e.Message}): {expression}", e);
        }
    }
}
