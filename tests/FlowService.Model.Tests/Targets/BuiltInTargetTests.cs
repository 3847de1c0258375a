using System.Text.Json;
using FlowService.Model.Targets;

namespace FlowService.Model.Tests.Targets;

/// <summary>Built-in targets: log p̃ - log Z equals the normalized density written out independently; quadratures agree with closed forms.</summary>
public sealed class BuiltInTargetTests
{
    private static readonly double Log2Pi = Math.Log(2 * Math.PI);

    private static double LogNormal(double x, double mean, double variance) => -0.5 * (Log2Pi + Math.Log(variance)) - (x - mean) * (x - mean) / (2 * variance);

    public static TheoryData<string, string, int, Func<double[], double>> Normalized => new()
    {
        { "funnel", """{"scale": 2}""", 5, x => LogNormal(x[0], 0, 4) + x.Skip(1).Sum(v => LogNormal(v, 0, Math.Exp(x[0]))) },
        { "banana", """{"scale": 1.5, "curvature": 0.7}""", 4,
            x => LogNormal(x[0], 0, 2.25) + LogNormal(x[1], 0.7 * (x[0] * x[0] - 2.25), 1) + x.Skip(2).Sum(v => LogNormal(v, 0, 1)) },
        { "gaussianMixture", """{"means": [[1, 0, -1], [0, 2, 0]], "weights": [1, 3], "scale": 0.5}""", 3,
            x => Math.Log(0.25 * Math.Exp(LogNormal(x[0], 1, 0.25) + LogNormal(x[1], 0, 0.25) + LogNormal(x[2], -1, 0.25))
                          + 0.75 * Math.Exp(LogNormal(x[0], 0, 0.25) + LogNormal(x[1], 2, 0.25) + LogNormal(x[2], 0, 0.25))) },
        { "gaussianMixture", "null", 10, x => Math.Log(Enumerable.Range(0, 4).Sum(k =>
            0.25 * Math.Exp(LogNormal(x[0], 3 * Math.Cos(Math.PI * k / 2), 1) + LogNormal(x[1], 3 * Math.Sin(Math.PI * k / 2), 1) + x.Skip(2).Sum(v => LogNormal(v, 0, 1))))) },
    };

    [Theory]
    [MemberData(nameof(Normalized))]
    public void Log_density_minus_log_Z_is_the_normalized_density(string name, string parameters, int dimensions, Func<double[], double> normalized)
    {
        var target = BuiltInTargets.Create(name, dimensions, JsonDocument.Parse(parameters).RootElement);
        Assert.NotNull(target.LogNormalizer);
        var random = new Random(3);
        int rows = 50;
        var x = new float[rows * dimensions];
        for (int i = 0; i < x.Length; i++)
            x[i] = (float)(random.NextDouble() * 4 - 2);
        var logDensity = new double[rows];
        target.LogDensity(x, rows, logDensity, Span<double>.Empty);
        for (int r = 0; r < rows; r++)
        {
            double expected = normalized(x.AsSpan(r * dimensions, dimensions).ToArray().Select(v => (double)v).ToArray());
            Assert.True(Math.Abs(logDensity[r] - target.LogNormalizer!.Value - expected) < 1e-9 * (1 + Math.Abs(expected)), $"{name} row {r}");
        }
    }

    [Theory]
    [InlineData("gaussianMixture", """{"components": 3, "radius": 2}""", -7, 7)]
    [InlineData("banana", """{"curvature": 0.5}""", -9, 12)]
    [InlineData("ring", """{"radius": 2, "scale": 0.3}""", -4, 4)]
    public void Two_dimensional_log_Z_agrees_with_a_grid_quadrature(string name, string parameters, double lo, double hi)
    {
        var target = BuiltInTargets.Create(name, 2, JsonDocument.Parse(parameters).RootElement);
        double grid = BuiltInTargets.GridLogNormalizer(target.Expression, lo, hi, 1201);
        Assert.Equal(target.LogNormalizer!.Value, grid, 4);
    }

    [Fact]
    public void Ring_log_Z_in_one_and_three_dimensions_matches_closed_forms()
    {
        // D = 1: two Gaussian bumps at ±r (r ≫ σ): 2 √(2π) σ. D = 3, r = 0: ∫ exp(-ρ²/2σ²) dx = (2πσ²)^{3/2}.
        Assert.Equal(Math.Log(2 * Math.Sqrt(2 * Math.PI) * 0.2), BuiltInTargets.RingLogNormalizer(1, 5, 0.2), 6);
        Assert.Equal(1.5 * Math.Log(2 * Math.PI * 0.49), BuiltInTargets.RingLogNormalizer(3, 0, 0.7), 6);
    }

    [Theory]
    [InlineData("""{"name": "funnel", "dimensions": 1}""", "dimensions", null)]
    [InlineData("""{"name": "nope", "dimensions": 2}""", "name", null)]
    [InlineData("""{"name": "funnel", "dimensions": 2, "parameters": {"scale": -1}}""", "parameters.scale", null)]
    [InlineData("""{"name": "funnel", "dimensions": 2, "parameters": {"radius": 1}}""", "parameters.radius", null)]
    [InlineData("""{"name": "gaussianMixture", "dimensions": 2, "parameters": {"means": [[1, 2], [3]]}}""", "parameters.means[1]", null)]
    [InlineData("""{"name": "twoMoons", "dimensions": 3}""", "dimensions", null)]
    [InlineData("""{"expression": "x0 + ", "dimensions": 1}""", "expression", 5)]
    [InlineData("""{"expression": "-x0^2", "dimensions": 2}""", "expression", null)]
    [InlineData("""{"expression": "-x0^2", "name": "ring", "dimensions": 1}""", "expression", null)]
    [InlineData("""{"dimensions": 1}""", "name", null)]
    [InlineData("""{"expression": "-x0^2"}""", "dimensions", null)]
    [InlineData("""{"expression": "-x0^2", "dimensions": 1, "stepsPerEpoch": 0}""", "stepsPerEpoch", null)]
    [InlineData("""{"expression": "-x0^2", "dimensions": 1, "temperature": 1}""", "temperature", null)]
    public void Bad_target_specs_name_the_field(string json, string field, int? position)
    {
        var error = Assert.Throws<TargetSpecException>(() => TargetSpec.From(JsonDocument.Parse(json).RootElement));
        Assert.Equal(field, error.Field);
        Assert.Equal(position, error.Position);
    }

    [Fact]
    public void Importance_statistics_of_exact_and_uneven_weights()
    {
        var exact = ImportanceStatistics.From([1.5, 1.5, 1.5, 1.5]);
        Assert.Equal(1.0, exact.EffectiveSampleSize, 12);
        Assert.Equal(1.5, exact.LogZ, 12);
        Assert.Equal(0.0, exact.LogZStandardError, 6);
        Assert.Equal(-1.5, exact.ReverseKl, 12);
        // Weights 1, 1, 1, 5: ESS = 64 / (4 · 28), log Ẑ = log 2, SE = sqrt(28/64 - 1/4).
        var uneven = ImportanceStatistics.From([0, 0, 0, Math.Log(5)]);
        Assert.Equal(64.0 / 112, uneven.EffectiveSampleSize, 12);
        Assert.Equal(Math.Log(2), uneven.LogZ, 12);
        Assert.Equal(Math.Sqrt(28.0 / 64 - 0.25), uneven.LogZStandardError, 12);
    }
}
