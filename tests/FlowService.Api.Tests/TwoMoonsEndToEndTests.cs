using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.Api.Tests;

/// <summary>
/// The walk-through on a density no Gaussian can fit: upload two-moons, train a neural spline flow
/// in the background worker, and check that the service learnt the shape: points on the moons score far
/// above points in the gap between them and far away, encode/decode is an exact inverse, and samples have
/// the data's mean and covariance.
/// </summary>
public class TwoMoonsEndToEndTests
{
    /// <summary>sklearn's make_moons: the upper half circle and the lower one shifted by (1, 0.5), noise σ = 0.1.</summary>
    internal static double[][] TwoMoons(int rows, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var points = new double[rows][];
        for (int r = 0; r < rows; r++)
        {
            double t = Math.PI * random.NextDouble();
            var (x, y) = r % 2 == 0 ? (Math.Cos(t), Math.Sin(t)) : (1 - Math.Cos(t), 0.5 - Math.Sin(t));
            points[r] = [x + 0.1 * Normal(), y + 0.1 * Normal()];
        }
        return points;
    }

    static (double[] Mean, double[,] Covariance) Moments(IReadOnlyList<double[]> points)
    {
        var mean = new double[2];
        foreach (var p in points)
            for (int j = 0; j < 2; j++)
                mean[j] += p[j] / points.Count;
        var covariance = new double[2, 2];
        foreach (var p in points)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    covariance[i, j] += (p[i] - mean[i]) * (p[j] - mean[j]) / points.Count;
        return (mean, covariance);
    }

    [Fact]
    public async Task A_spline_flow_trained_on_two_moons_scores_the_moons_above_the_gap_inverts_exactly_and_samples_the_data()
    {
        await using var factory = new FlowServiceFactory();
        var client = factory.CreateClient();
        var data = TwoMoons(4000, seed: 7);
        var csv = new StringBuilder("x,y\n");
        foreach (var p in data)
            csv.Append(CultureInfo.InvariantCulture, $"{p[0]:R},{p[1]:R}\n");
        var uploaded = await (await client.PostAsync("/datasets?name=moons", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created);

        var created = await client.PostAsJsonAsync("/jobs", new
        {
            datasetId = uploaded.Text("id"),
            model = "moons",
            flow = new { type = "nsf", layers = 4, hidden = new[] { 64, 64 }, bins = 8, tailBound = 4 },
            training = new { epochs = 40, batchSize = 256, learningRate = 3e-3, patience = 40, seed = 3 },
        });
        string job = (await created.AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        Assert.EndsWith($"/jobs/{job}", created.Headers.Location?.ToString());
        var done = await EndToEndTests.WaitAsync(client, job, EndToEndTests.Finished, seconds: 240);
        Assert.Equal("succeeded", done.Text("state"));

        // Held-out NLL well below the best Gaussian's (the data's own covariance: 1 + log 2π + ½ log det Σ ≈ 2.05 nats).
        var version = await (await client.GetAsync("/models/moons/versions/1")).AssertJson(HttpStatusCode.OK);
        double testNll = version.GetProperty("metrics").GetProperty("testNll").GetDouble();
        var (mean, covariance) = Moments(data);
        double gaussianEntropy = 1 + Math.Log(2 * Math.PI) + 0.5 * Math.Log(covariance[0, 0] * covariance[1, 1] - covariance[0, 1] * covariance[0, 1]);
        Assert.True(testNll < gaussianEntropy - 0.6, $"test NLL {testNll:F3} vs the best Gaussian's {gaussianEntropy:F3}");

        // On the moons (top of the upper one, bottom of the lower one) versus the gap between them and far away.
        double[][] rows = [[0.0, 1.0], [1.0, -0.5], [0.5, 0.25], [-1.5, -1.0], [4.0, 4.0]];
        var score = await (await client.PostAsJsonAsync("/score", new { model = "moons", rows })).AssertJson(HttpStatusCode.OK);
        var logProb = score.GetProperty("logProb").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        foreach (int onMoon in new[] { 0, 1 })
        {
            Assert.True(logProb[onMoon] > logProb[2] + 2, $"moon point {onMoon}: {logProb[onMoon]:F2} vs gap {logProb[2]:F2}");
            Assert.True(logProb[onMoon] > logProb[3] + 5, $"moon point {onMoon}: {logProb[onMoon]:F2} vs off-moon {logProb[3]:F2}");
            Assert.True(logProb[onMoon] > logProb[4] + 20, $"moon point {onMoon}: {logProb[onMoon]:F2} vs far {logProb[4]:F2}");
        }
        // At the default 1% level the moons are normal and the off-moon and far points anomalies (the gap is a matter of degree).
        var anomaly = score.GetProperty("anomaly").EnumerateArray().Select(v => v.GetBoolean()).ToArray();
        Assert.Equal([false, false, true, true], new[] { anomaly[0], anomaly[1], anomaly[3], anomaly[4] });

        // Encode then decode 200 data points: the exact inverse, to 1e-4 in the client's units.
        var points = data.Take(200).ToArray();
        var encoded = await (await client.PostAsJsonAsync("/encode", new { model = "moons", rows = points })).AssertJson(HttpStatusCode.OK);
        var decoded = await (await client.PostAsJsonAsync("/decode", new { model = "moons", z = encoded.GetProperty("z") })).AssertJson(HttpStatusCode.OK);
        double worst = 0;
        for (int i = 0; i < points.Length; i++)
            for (int j = 0; j < 2; j++)
                worst = Math.Max(worst, Math.Abs(decoded.GetProperty("rows")[i][j].GetDouble() - points[i][j]));
        Assert.True(worst <= 1e-4, $"decode(encode(x)) is off by {worst:E2}");

        // Samples: the data's mean and covariance.
        var sample = await (await client.GetAsync("/sample?model=moons&n=20000&seed=5")).AssertJson(HttpStatusCode.OK);
        var drawn = sample.GetProperty("rows").EnumerateArray().Select(r => new[] { r[0].GetDouble(), r[1].GetDouble() }).ToList();
        var (sampleMean, sampleCovariance) = Moments(drawn);
        for (int i = 0; i < 2; i++)
        {
            Assert.True(Math.Abs(sampleMean[i] - mean[i]) < 0.05, $"mean[{i}]: samples {sampleMean[i]:F3}, data {mean[i]:F3}");
            for (int j = 0; j < 2; j++)
                Assert.True(Math.Abs(sampleCovariance[i, j] - covariance[i, j]) < 0.05,
                    $"cov[{i},{j}]: samples {sampleCovariance[i, j]:F3}, data {covariance[i, j]:F3}");
        }
    }
}
