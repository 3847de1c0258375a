using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.Api.Tests;

/// <summary>
/// The user's path through the running service: upload, train in the background worker, score,
/// encode/decode, sample, registry; and a job interrupted by a shutdown resuming at the next start.
/// </summary>
public class EndToEndTests
{
    /// <summary>CSV of N(μ, Σ): μ = (3, -1), Σ = [[4, 2.4], [2.4, 1.69]] (x = 3 + 2a, y = -1 + 1.2a + 0.5b).</summary>
    internal static string GaussianCsv(int rows, int seed)
    {
        var random = new Random(seed);
        double Normal() => Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        var csv = new StringBuilder("x,y\n");
        for (int r = 0; r < rows; r++)
        {
            double a = Normal(), b = Normal();
            csv.Append(CultureInfo.InvariantCulture, $"{3 + 2 * a:R},{-1 + 1.2 * a + 0.5 * b:R}\n");
        }
        return csv.ToString();
    }

    static double TrueLogDensity(double x, double y)
    {
        double dx = x - 3, dy = y + 1, det = 4 * 1.69 - 2.4 * 2.4;
        return -0.5 * (1.69 * dx * dx - 2 * 2.4 * dx * dy + 4 * dy * dy) / det - Math.Log(2 * Math.PI) - 0.5 * Math.Log(det);
    }

    static async Task<string> UploadAsync(HttpClient client, string csv)
    {
        var response = await client.PostAsync("/datasets?name=gauss", new StringContent(csv, Encoding.UTF8, "text/csv"));
        return (await response.AssertJson(HttpStatusCode.Created)).Text("id")!;
    }

    internal static async Task<JsonElement> WaitAsync(HttpClient client, string job, Func<JsonElement, bool> until, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var state = await (await client.GetAsync($"/jobs/{job}")).AssertJson(HttpStatusCode.OK);
            if (until(state))
                return state;
            Assert.True(DateTime.UtcNow < deadline, $"job did not get there in time: {state}");
            await Task.Delay(50);
        }
    }

    /// <summary>The worker removes a finished job's training state just after it records the outcome: give it a moment.</summary>
    static async Task StateRemovedAsync(string folder)
    {
        for (int i = 0; i < 100 && Directory.Exists(folder); i++)
            await Task.Delay(50);
        Assert.False(Directory.Exists(folder), $"the finished job's training state is still at {folder}");
    }

    internal static bool Finished(JsonElement job) => job.Text("state") is "succeeded" or "failed" or "cancelled";

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Upload_train_score_encode_decode_sample_against_the_analytic_density(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend);
        var client = factory.CreateClient();
        string dataset = await UploadAsync(client, GaussianCsv(3000, 11));
        var created = await (await client.PostAsJsonAsync("/jobs", new
        {
            datasetId = dataset,
            model = "gauss",
            // One MAF layer with an affine leaf can represent any Gaussian exactly; two leave room for the optimizer.
            flow = new { type = "maf", layers = 2, hidden = new[] { 16, 16 } },
            training = new { epochs = 200, batchSize = 500, learningRate = 0.01, patience = 200 },
        })).AssertJson(HttpStatusCode.Accepted);
        string job = created.Text("id")!;

        var done = await WaitAsync(client, job, Finished);
        Assert.Equal("succeeded", done.Text("state"));
        Assert.Equal(1, done.GetProperty("modelVersion").GetInt32());
        int epochs = done.GetProperty("epoch").GetInt32();
        Assert.Equal(epochs, done.GetProperty("trainNll").GetArrayLength());
        Assert.Equal(epochs, done.GetProperty("validationNll").GetArrayLength());
        Assert.True(done.GetProperty("samplesPerSecond").GetDouble() > 0);
        Assert.True(done.GetProperty("trainNll")[0].GetDouble() > done.GetProperty("trainNll")[epochs - 1].GetDouble());
        await StateRemovedAsync(Path.Combine(factory.DataPath, "jobs", job));

        var version = await (await client.GetAsync("/models/gauss/versions/1")).AssertJson(HttpStatusCode.OK);
        Assert.Equal(dataset, version.Text("datasetId"));
        Assert.Equal(job, version.Text("jobId"));
        // The entropy of the generating Gaussian is 1 + log 2π + ½ log det Σ = 2.8379 nats; held-out NLL is close to it.
        double entropy = 1 + Math.Log(2 * Math.PI) + 0.5 * Math.Log(4 * 1.69 - 2.4 * 2.4);
        Assert.InRange(version.GetProperty("metrics").GetProperty("testNll").GetDouble(), entropy - 0.15, entropy + 0.15);

        // Score: exact log p in the client's units, against the generating density.
        double[][] rows = [[3, -1], [5, 0.2], [1, -2.5], [3, 3]];
        var score = await (await client.PostAsJsonAsync("/score", new { model = "gauss", rows })).AssertJson(HttpStatusCode.OK);
        var logProb = score.GetProperty("logProb").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        for (int i = 0; i < 3; i++)
            Assert.True(Math.Abs(logProb[i] - TrueLogDensity(rows[i][0], rows[i][1])) < 0.1, $"row {i}: {logProb[i]} vs {TrueLogDensity(rows[i][0], rows[i][1])}");
        Assert.True(logProb[0] > logProb[3] + 10);
        Assert.Equal([false, false, false, true], score.GetProperty("anomaly").EnumerateArray().Select(v => v.GetBoolean()));
        Assert.True(score.GetProperty("percentile")[0].GetDouble() > 0.9);
        Assert.Equal(0.0, score.GetProperty("percentile")[3].GetDouble());

        // The same rows as CSV (columns in another order) score identically.
        var csvScore = await (await client.PostAsync("/score?model=gauss", new StringContent("y,x\n-1,3\n3,3\n", Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.OK);
        Assert.Equal(logProb[0], csvScore.GetProperty("logProb")[0].GetDouble(), 5);
        Assert.Equal(logProb[3], csvScore.GetProperty("logProb")[1].GetDouble(), 5);

        // Encode / decode: exact inverse; the flow component's log p = log N(z) + log|det|.
        double defensiveWeight = (await (await client.GetAsync("/models/gauss/versions/1")).AssertJson(HttpStatusCode.OK))
            .GetProperty("metrics").GetProperty("defensiveWeight").GetDouble();
        Assert.InRange(defensiveWeight, 0.001, 0.3);
        var encoded = await (await client.PostAsJsonAsync("/encode", new { model = "gauss", rows })).AssertJson(HttpStatusCode.OK);
        var z = encoded.GetProperty("z");
        for (int i = 0; i < rows.Length; i++)
        {
            double z0 = z[i][0].GetDouble(), z1 = z[i][1].GetDouble();
            // The served log p is log((1 - ε) p_flow + ε N) with the defensive Gaussian N (weight ε from the version): never
            // below the flow component's log N(z) + log|det| plus log(1 - ε), and on this Gaussian data, where the fitted
            // Gaussian and the flow agree, close to it.
            double flowLogProb = -0.5 * (z0 * z0 + z1 * z1) - Math.Log(2 * Math.PI) + encoded.GetProperty("logDet")[i].GetDouble();
            Assert.True(logProb[i] >= flowLogProb + Math.Log(1 - defensiveWeight) - 1e-4, $"row {i}: served {logProb[i]}, flow {flowLogProb}, ε {defensiveWeight}");
            if (flowLogProb > -10)   // near the data; far out the fitted Gaussian and the flow's tails part ways, as they may
                Assert.True(Math.Abs(logProb[i] - flowLogProb) <= 0.1, $"row {i}: served {logProb[i]}, flow {flowLogProb}");
        }
        var decoded = await (await client.PostAsJsonAsync("/decode", new { model = "gauss", z })).AssertJson(HttpStatusCode.OK);
        for (int i = 0; i < rows.Length; i++)
            for (int j = 0; j < 2; j++)
                Assert.True(Math.Abs(decoded.GetProperty("rows")[i][j].GetDouble() - rows[i][j]) <= 1e-4);

        // Samples: mean and covariance close to the data's; CSV with Accept: text/csv; seeded.
        var sample = await (await client.GetAsync("/sample?model=gauss&n=20000&seed=3")).AssertJson(HttpStatusCode.OK);
        var points = sample.GetProperty("rows").EnumerateArray().Select(r => (r[0].GetDouble(), r[1].GetDouble())).ToArray();
        Assert.Equal(20000, points.Length);
        double mx = points.Average(p => p.Item1), my = points.Average(p => p.Item2);
        Assert.InRange(mx, 2.85, 3.15);
        Assert.InRange(my, -1.1, -0.9);
        Assert.InRange(points.Average(p => (p.Item1 - mx) * (p.Item1 - mx)), 3.6, 4.4);
        Assert.InRange(points.Average(p => (p.Item1 - mx) * (p.Item2 - my)), 2.1, 2.7);
        Assert.InRange(points.Average(p => (p.Item2 - my) * (p.Item2 - my)), 1.5, 1.9);
        var request = new HttpRequestMessage(HttpMethod.Get, "/sample?model=gauss&n=5&seed=3");
        request.Headers.Accept.ParseAdd("text/csv");
        var csv = await client.SendAsync(request);
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        var lines = (await csv.Content.ReadAsStringAsync()).Trim().Split('\n');
        Assert.Equal("x,y", lines[0]);
        Assert.Equal(6, lines.Length);
        var again = await (await client.GetAsync("/sample?model=gauss&n=5&seed=3")).AssertJson(HttpStatusCode.OK);
        Assert.Equal(double.Parse(lines[1].Split(',')[0], CultureInfo.InvariantCulture), again.GetProperty("rows")[0][0].GetDouble(), 5);
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Inference_rejections_are_problems_naming_what_and_where(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, settings: new() { ["FlowService:Limits:MaxScoreRows"] = "3", ["FlowService:Limits:MaxSampleCount"] = "50" });
        var client = factory.CreateClient();
        string dataset = await UploadAsync(client, GaussianCsv(300, 2));
        string job = (await (await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "g", training = new { epochs = 3 } })).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        Assert.Equal("succeeded", (await WaitAsync(client, job, Finished)).Text("state"));

        async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode status) => await response.AssertProblem(status);
        Assert.Equal("model", (await Problem(await client.PostAsJsonAsync("/score", new { model = "nope", rows = new[] { new[] { 1.0, 2.0 } } }), HttpStatusCode.NotFound)).Text("field"));
        Assert.Equal("version", (await Problem(await client.PostAsJsonAsync("/score", new { model = "g", version = 7, rows = new[] { new[] { 1.0, 2.0 } } }), HttpStatusCode.NotFound)).Text("field"));
        Assert.Equal("alias", (await Problem(await client.PostAsJsonAsync("/score", new { model = "g", alias = "production", rows = new[] { new[] { 1.0, 2.0 } } }), HttpStatusCode.NotFound)).Text("field"));
        Assert.Equal("rows[1]", (await Problem(await client.PostAsJsonAsync("/score", new { model = "g", rows = new[] { new[] { 1.0, 2.0 }, new[] { 1.0 } } }), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows", (await Problem(await client.PostAsJsonAsync("/score", new { model = "g", rows = Array.Empty<double[]>() }), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows", (await Problem(await client.PostAsJsonAsync("/score", new { model = "g", rows = Enumerable.Repeat(new[] { 1.0, 2.0 }, 4) }), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows[0][1]", (await Problem(await client.PostAsJsonAsync("/score", new { model = "g", rows = new[] { new[] { 1.0, 1e300 } } }), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows[0][1]", (await Problem(await client.PostAsync("/score", new StringContent("""{"model":"g","rows":[[1,"NaN"]]}""", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("anomalyQuantile", (await Problem(await client.PostAsJsonAsync("/score", new { model = "g", rows = new[] { new[] { 1.0, 2.0 } }, anomalyQuantile = 2 }), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("context", (await Problem(await client.PostAsJsonAsync("/score", new { model = "g", rows = new[] { new[] { 1.0, 2.0 } }, context = new[] { new[] { 1.0 } } }), HttpStatusCode.BadRequest)).Text("field"));
        var csvProblem = await Problem(await client.PostAsync("/score?model=g", new StringContent("x,q\n1,2\n", Encoding.UTF8, "text/csv")), HttpStatusCode.BadRequest);
        Assert.Equal("y", csvProblem.Text("column"));
        Assert.Equal("z[0]", (await Problem(await client.PostAsJsonAsync("/decode", new { model = "g", z = new[] { new[] { 1.0, 2.0, 3.0 } } }), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows", (await Problem(await client.PostAsJsonAsync("/encode", new { model = "g" }), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("n", (await Problem(await client.GetAsync("/sample?model=g&n=51"), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("temperature", (await Problem(await client.GetAsync("/sample?model=g&n=5&temperature=0"), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("model", (await Problem(await client.GetAsync("/sample?n=5"), HttpStatusCode.BadRequest)).Text("field"));

        // Aliases choose the default version; an explicit version or alias overrides it.
        string second = (await (await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "g", training = new { epochs = 1 } })).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        await WaitAsync(client, second, Finished);
        Assert.Equal(2, (await (await client.PostAsJsonAsync("/score", new { model = "g", rows = new[] { new[] { 1.0, 2.0 } } })).AssertJson(HttpStatusCode.OK)).GetProperty("version").GetInt32());
        await client.PutAsJsonAsync("/models/g/aliases/production", new { version = 1 });
        Assert.Equal(1, (await (await client.PostAsJsonAsync("/score", new { model = "g", rows = new[] { new[] { 1.0, 2.0 } } })).AssertJson(HttpStatusCode.OK)).GetProperty("version").GetInt32());
        Assert.Equal(2, (await (await client.PostAsJsonAsync("/score", new { model = "g", version = 2, rows = new[] { new[] { 1.0, 2.0 } } })).AssertJson(HttpStatusCode.OK)).GetProperty("version").GetInt32());
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task A_job_interrupted_by_shutdown_resumes_from_its_checkpoint_and_ends_exactly_as_an_uninterrupted_run(StoreBackend backend)
    {
        // Small batches make many optimizer steps per epoch, so the shutdown lands in the middle of the run.
        object Job(string dataset, string model) => new
        {
            datasetId = dataset,
            model,
            flow = new { type = "realnvp", layers = 4, hidden = new[] { 32, 32 } },
            training = new { epochs = 30, batchSize = 16, learningRate = 0.002, patience = 30, seed = 9 },
        };
        string csv = GaussianCsv(1500, 5);
        string dataPath = Path.Combine(Path.GetTempPath(), "flowservice-api-tests", Guid.NewGuid().ToString("N"));
        string job;
        string? database;
        await using (var first = new FlowServiceFactory(backend, dataPath: dataPath))
        {
            database = first.PostgresConnection;
            var client = first.CreateClient();
            job = (await (await client.PostAsJsonAsync("/jobs", Job(await UploadAsync(client, csv), "resume"))).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
            var before = await WaitAsync(client, job, j => j.GetProperty("epoch").GetInt32() >= 3);
            Assert.True(before.GetProperty("epoch").GetInt32() < 30, $"the job finished before the shutdown: {before}");
        }
        JsonElement resumed;
        try
        {
            await using var second = new FlowServiceFactory(backend, dataPath: dataPath, postgres: database);
            var client = second.CreateClient();
            resumed = await WaitAsync(client, job, Finished, seconds: 180);
            Assert.Equal("succeeded", resumed.Text("state"));
            Assert.Equal(2, resumed.GetProperty("attempts").GetInt32());
            Assert.Equal(30, resumed.GetProperty("epoch").GetInt32());
            Assert.Equal(30, resumed.GetProperty("trainNll").GetArrayLength());
            Assert.Equal(1, resumed.GetProperty("modelVersion").GetInt32());
            await StateRemovedAsync(Path.Combine(dataPath, "jobs", job));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dataPath, recursive: true);
        }

        // The same job run without interruption: training state (weights, Adam moments, step, best weights) and the
        // seeded per-epoch shuffles make the resumed run retrace it exactly, epoch by epoch.
        await using var fresh = new FlowServiceFactory(backend);
        var freshClient = fresh.CreateClient();
        string control = (await (await freshClient.PostAsJsonAsync("/jobs", Job(await UploadAsync(freshClient, csv), "control"))).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        var uninterrupted = await WaitAsync(freshClient, control, Finished, seconds: 180);
        Assert.Equal("succeeded", uninterrupted.Text("state"));
        Assert.Equal(1, uninterrupted.GetProperty("attempts").GetInt32());
        foreach (var series in new[] { "trainNll", "validationNll" })
            Assert.Equal(uninterrupted.GetProperty(series).EnumerateArray().Select(v => v.GetDouble()),
                resumed.GetProperty(series).EnumerateArray().Select(v => v.GetDouble()));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Cancelling_a_running_job_stops_it_and_registers_nothing(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend);
        var client = factory.CreateClient();
        string dataset = await UploadAsync(client, GaussianCsv(2000, 6));
        string job = (await (await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "c", training = new { epochs = 100000, batchSize = 8, patience = 100000 } })).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        await WaitAsync(client, job, j => j.GetProperty("epoch").GetInt32() >= 1);
        Assert.Equal(HttpStatusCode.Accepted, (await client.PostAsync($"/jobs/{job}/cancel", null)).StatusCode);
        Assert.Equal("cancelled", (await WaitAsync(client, job, Finished)).Text("state"));
        await (await client.GetAsync("/models/c")).AssertProblem(HttpStatusCode.NotFound);
    }
}
