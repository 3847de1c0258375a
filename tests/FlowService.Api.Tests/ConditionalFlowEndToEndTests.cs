using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.Api.Tests;

/// <summary>
/// A conditional flow through the service: the dataset's column c is named in contextColumns, the flow
/// models p(x, y | c), and every inference call takes the context. The generating density is known
/// (x | c ~ N(2c, 0.3²), y | c ~ N(-c, 0.5²)), so the scores are checked against it.
/// </summary>
public class ConditionalFlowEndToEndTests
{
    static double TrueLogDensity(double x, double y, double c)
    {
        static double LogNormal(double v, double mean, double sd) => -0.5 * Math.Pow((v - mean) / sd, 2) - Math.Log(sd) - 0.5 * Math.Log(2 * Math.PI);
        return LogNormal(x, 2 * c, 0.3) + LogNormal(y, -c, 0.5);
    }

    [Fact]
    public async Task A_flow_conditioned_on_a_column_scores_encodes_decodes_and_samples_given_the_context()
    {
        await using var factory = new FlowServiceFactory();
        var client = factory.CreateClient();
        var random = new Random(21);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var csv = new StringBuilder("x,c,y\n");
        for (int r = 0; r < 4000; r++)
        {
            double c = random.NextDouble() * 4 - 2;
            csv.Append(CultureInfo.InvariantCulture, $"{2 * c + 0.3 * Normal():R},{c:R},{-c + 0.5 * Normal():R}\n");
        }
        string dataset = (await (await client.PostAsync("/datasets?name=cond", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created)).Text("id")!;
        string job = (await (await client.PostAsJsonAsync("/jobs", new
        {
            datasetId = dataset,
            model = "cond",
            flow = new { type = "maf", layers = 2, hidden = new[] { 32, 32 } },
            contextColumns = new[] { "c" },
            training = new { epochs = 60, batchSize = 256, learningRate = 0.005, patience = 60 },
        })).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        var done = await EndToEndTests.WaitAsync(client, job, EndToEndTests.Finished, seconds: 180);
        Assert.Equal("succeeded", done.Text("state"));
        var version = await (await client.GetAsync("/models/cond/versions/1")).AssertJson(HttpStatusCode.OK);
        Assert.Equal(["x", "y"], version.GetProperty("columns").EnumerateArray().Select(v => v.GetString()));
        Assert.Equal(["c"], version.GetProperty("contextColumns").EnumerateArray().Select(v => v.GetString()));

        // log p(x, y | c) against the generating conditional density, and the same point under another context.
        double[][] rows = [[2.0, -1.0], [-1.0, 0.4], [0.1, 0.2], [2.0, -1.0]];
        double[][] context = [[1.0], [-0.5], [0.0], [-1.0]];
        var score = await (await client.PostAsJsonAsync("/score", new { model = "cond", rows, context })).AssertJson(HttpStatusCode.OK);
        var logProb = score.GetProperty("logProb").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        for (int i = 0; i < 3; i++)
        {
            double truth = TrueLogDensity(rows[i][0], rows[i][1], context[i][0]);
            Assert.True(Math.Abs(logProb[i] - truth) < 0.2, $"row {i}: flow {logProb[i]:F3}, true {truth:F3}");
        }
        Assert.True(logProb[0] > logProb[3] + 20, $"(2, -1) given c = 1: {logProb[0]:F2}; given c = -1: {logProb[3]:F2}");
        Assert.Equal([false, true], new[] { score.GetProperty("anomaly")[0].GetBoolean(), score.GetProperty("anomaly")[3].GetBoolean() });

        // The context is required, and its shape is checked.
        var missing = await (await client.PostAsJsonAsync("/score", new { model = "cond", rows })).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("context", missing.Text("field"));

        // Encode/decode with the context is an exact inverse.
        var encoded = await (await client.PostAsJsonAsync("/encode", new { model = "cond", rows, context })).AssertJson(HttpStatusCode.OK);
        var decoded = await (await client.PostAsJsonAsync("/decode", new { model = "cond", z = encoded.GetProperty("z"), context })).AssertJson(HttpStatusCode.OK);
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < 2; j++)
                Assert.True(Math.Abs(decoded.GetProperty("rows")[i][j].GetDouble() - rows[i][j]) <= 1e-4);

        // Samples given c = 1.5 have the conditional mean (3, -1.5) and spreads (0.3, 0.5).
        var sample = await (await client.GetAsync("/sample?model=cond&n=10000&seed=2&context=1.5")).AssertJson(HttpStatusCode.OK);
        var drawn = sample.GetProperty("rows").EnumerateArray().Select(r => (X: r[0].GetDouble(), Y: r[1].GetDouble())).ToArray();
        double mx = drawn.Average(p => p.X), my = drawn.Average(p => p.Y);
        Assert.InRange(mx, 2.95, 3.05);
        Assert.InRange(my, -1.55, -1.45);
        Assert.InRange(Math.Sqrt(drawn.Average(p => (p.X - mx) * (p.X - mx))), 0.27, 0.33);
        Assert.InRange(Math.Sqrt(drawn.Average(p => (p.Y - my) * (p.Y - my))), 0.45, 0.55);
        Assert.Equal("context", (await (await client.GetAsync("/sample?model=cond&n=5")).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
    }
}
