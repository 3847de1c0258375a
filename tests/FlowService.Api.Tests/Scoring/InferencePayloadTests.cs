using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using FlowService.Api.Scoring;
using Microsoft.Extensions.DependencyInjection;

namespace FlowService.Api.Tests.Scoring;

/// <summary>
/// The inference payloads over real HTTP against a model trained through the service: JSON, CSV and .npy bodies
/// agree to the bit, .npy answers match JSON ones, every bad body is a problem naming its place, overload is a 503
/// with Retry-After, and aliased models are warm before the first request.
/// </summary>
public class InferencePayloadTests
{
    static readonly double[][] Points = [[3, -1], [5, 0.2], [1, -2.5], [3, 3]];

    static string Csv(int rows, int seed)
    {
        var random = new Random(seed);
        var csv = new StringBuilder("x,y\n");
        for (int r = 0; r < rows; r++)
        {
            double a = random.NextDouble() * 4 - 2, b = random.NextDouble() * 2 - 1;
            csv.Append(CultureInfo.InvariantCulture, $"{3 + 2 * a:R},{-1 + 1.2 * a + 0.5 * b:R}\n");
        }
        return csv.ToString();
    }

    /// <summary>Uploads a small two-column dataset and trains model <paramref name="name"/> version 1 with the default flow.</summary>
    internal static async Task TrainAsync(HttpClient client, string name)
    {
        var upload = await (await client.PostAsync($"/datasets?name={name}", new StringContent(Csv(400, 5), Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created);
        var job = await (await client.PostAsJsonAsync("/jobs", new { datasetId = upload.Text("id"), model = name, training = new { epochs = 3 } })).AssertJson(HttpStatusCode.Accepted);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (true)
        {
            var state = await (await client.GetAsync($"/jobs/{job.Text("id")}")).AssertJson(HttpStatusCode.OK);
            if (state.Text("state") is "succeeded")
                return;
            Assert.True(state.Text("state") is "queued" or "running" && DateTime.UtcNow < deadline, $"training did not succeed: {state}");
            await Task.Delay(50);
        }
    }

    static async Task<float[]> LogProbAsync(HttpResponseMessage response) =>
        (await response.AssertJson(HttpStatusCode.OK)).GetProperty("logProb").EnumerateArray().Select(v => v.GetSingle()).ToArray();

    static ByteArrayContent Npy(byte[] bytes)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/x-npy");
        return content;
    }

    static HttpRequestMessage AcceptNpy(HttpMethod method, string uri, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, uri) { Content = content };
        request.Headers.Accept.ParseAdd("application/x-npy");
        return request;
    }

    [Fact]
    public async Task Json_csv_and_npy_bodies_score_alike_and_npy_answers_match_json()
    {
        await using var factory = new FlowServiceFactory();
        var client = factory.CreateClient();
        await TrainAsync(client, "m");

        var json = await LogProbAsync(await client.PostAsJsonAsync("/score", new { model = "m", rows = Points }));
        var csv = await LogProbAsync(await client.PostAsync("/score?model=m", new StringContent("y,x\n-1,3\n0.2,5\n-2.5,1\n3,3\n", Encoding.UTF8, "text/csv")));
        var npy32 = await LogProbAsync(await client.PostAsync("/score?model=m&version=1", Npy(NpyBytes.Float32(4, 2, Points.SelectMany(p => p.Select(v => (float)v)).ToArray()))));
        var npy64 = await LogProbAsync(await client.PostAsync("/score?model=m", Npy(NpyBytes.Float64(4, 2, Points.SelectMany(p => p).ToArray()))));
        Assert.Equal(json, csv);
        Assert.Equal(json, npy32);
        Assert.Equal(json, npy64);
        Assert.All(json, lp => Assert.True(float.IsFinite(lp)));

        // Encode: the (rows, D + 1) .npy holds z and log|det| exactly as JSON does.
        var encoded = await (await client.PostAsJsonAsync("/encode", new { model = "m", rows = Points })).AssertJson(HttpStatusCode.OK);
        var npyEncoded = await client.SendAsync(AcceptNpy(HttpMethod.Post, "/encode", JsonContent.Create(new { model = "m", rows = Points })));
        Assert.Equal("application/x-npy", npyEncoded.Content.Headers.ContentType?.MediaType);
        Assert.Equal("1", npyEncoded.Headers.GetValues("X-Model-Version").Single());
        var (rows, columns, values) = NpyBytes.Read(await npyEncoded.Content.ReadAsByteArrayAsync());
        Assert.Equal((4, 3), (rows, columns));
        for (int r = 0; r < 4; r++)
        {
            Assert.Equal(encoded.GetProperty("z")[r][0].GetSingle(), values[r * 3]);
            Assert.Equal(encoded.GetProperty("z")[r][1].GetSingle(), values[r * 3 + 1]);
            Assert.Equal(encoded.GetProperty("logDet")[r].GetSingle(), values[r * 3 + 2]);
        }

        // Decode from a CSV of latent columns, answered as .npy: the exact inverse of the encode.
        var zCsv = new StringBuilder("z0,z1\n");
        for (int r = 0; r < 4; r++)
            zCsv.Append(CultureInfo.InvariantCulture, $"{values[r * 3]:R},{values[r * 3 + 1]:R}\n");
        var decoded = await client.SendAsync(AcceptNpy(HttpMethod.Post, "/decode?model=m", new StringContent(zCsv.ToString(), Encoding.UTF8, "text/csv")));
        var (_, _, x) = NpyBytes.Read(await decoded.Content.ReadAsByteArrayAsync());
        for (int i = 0; i < 8; i++)
            Assert.True(Math.Abs(x[i] - Points[i / 2][i % 2]) < 1e-3, $"decoded {x[i]} vs {Points[i / 2][i % 2]}");

        // Samples: the .npy stream (Content-Length known up front) holds the same values as the JSON and CSV ones.
        var sampleNpy = await client.SendAsync(AcceptNpy(HttpMethod.Get, "/sample?model=m&n=5000&seed=4"));
        byte[] sampleBytes = await sampleNpy.Content.ReadAsByteArrayAsync();
        Assert.Equal(sampleBytes.Length, sampleNpy.Content.Headers.ContentLength);
        var (n, d, samples) = NpyBytes.Read(sampleBytes);
        Assert.Equal((5000, 2), (n, d));
        var sampleJson = await (await client.GetAsync("/sample?model=m&n=5000&seed=4")).AssertJson(HttpStatusCode.OK);
        var csvRequest = new HttpRequestMessage(HttpMethod.Get, "/sample?model=m&n=5000&seed=4");
        csvRequest.Headers.Accept.ParseAdd("text/csv");
        var csvLines = (await (await client.SendAsync(csvRequest)).Content.ReadAsStringAsync()).TrimEnd('\n').Split('\n');
        Assert.Equal(5001, csvLines.Length);
        foreach (int r in new[] { 0, 4095, 4096, 4999 })
        {
            Assert.Equal(samples[r * 2], sampleJson.GetProperty("rows")[r][0].GetSingle());
            Assert.Equal(samples[r * 2 + 1], float.Parse(csvLines[r + 1].Split(',')[1], CultureInfo.InvariantCulture));
        }
    }

    [Fact]
    public async Task Bad_bodies_are_problems_naming_the_place()
    {
        await using var factory = new FlowServiceFactory(settings: new() { ["FlowService:Scoring:MaxRequestBytes"] = "4000" });
        var client = factory.CreateClient();
        await TrainAsync(client, "m");

        async Task<JsonElement> Problem(HttpResponseMessage response, HttpStatusCode status) => await response.AssertProblem(status);
        StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");

        var syntax = await Problem(await client.PostAsync("/score", Json("""{"model":"m","rows":[[1,2],}""")), HttpStatusCode.BadRequest);
        Assert.Equal("$", syntax.Text("field"));
        Assert.Contains("LineNumber", syntax.Text("detail"));
        Assert.Equal("$", (await Problem(await client.PostAsync("/score", Json("[1,2]")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows[1][0]", (await Problem(await client.PostAsync("/score", Json("""{"rows":[[1,2],[true,2]],"model":"m"}""")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows[0][1]", (await Problem(await client.PostAsync("/score", Json("""{"model":"m","rows":[[1,1e39]]}""")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows[0]", (await Problem(await client.PostAsync("/score", Json("""{"model":"m","rows":[[1,2,3]]}""")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows", (await Problem(await client.PostAsync("/score", Json("""{"model":"m","rows":{"x":1}}""")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("version", (await Problem(await client.PostAsync("/score", Json("""{"model":"m","version":"1","rows":[[1,2]]}""")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("z[0][1]", (await Problem(await client.PostAsync("/decode", Json("""{"model":"m","z":[[0,"x"]]}""")), HttpStatusCode.BadRequest)).Text("field"));
        // Property names match case-insensitively, as the web JSON defaults do.
        Assert.Single(await LogProbAsync(await client.PostAsync("/score", Json("""{"Model":"m","ROWS":[[3,-1]]}"""))));
        // Pass one notes where each matrix field's value lies; pass two reads it from those bytes alone, whatever the value is.
        foreach (string value in new[] { "\"[[1,2]]\"", "12", "true", "{}" })
            Assert.Equal("rows", (await Problem(await client.PostAsync("/score", Json($$"""{"model":"m","rows": {{value}} }""")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("rows[0]", (await Problem(await client.PostAsync("/score", Json("""{"model":"m","rows":[1,2]}""")), HttpStatusCode.BadRequest)).Text("field"));
        foreach (string body in new[] { """{"model":"m","rows":null}""", """{"model":"m"}""", """{"model":"m","rows":[[1,2]],"rows":null}""" })
            Assert.Contains("at least one row", (await Problem(await client.PostAsync("/score", Json(body)), HttpStatusCode.BadRequest)).Text("detail"));
        // A repeated property counts once, the last one, before or after the target fields.
        Assert.Equal(3, (await LogProbAsync(await client.PostAsync("/score", Json("""{"rows":[[1,true]],"model":"m","rows":[[3,-1],[5,0.2],[1,-2.5]]}""")))).Length);
        Assert.Equal("context", (await Problem(await client.PostAsync("/score", Json("""{"model":"m","rows":[[1,2]],"context":[[0]]}""")), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Single(await LogProbAsync(await client.PostAsync("/score", Json("""{"model":"m","rows":[[1,2]],"context":[]}"""))));

        Assert.Equal("version", (await Problem(await client.PostAsync("/score?model=m&version=one", new StringContent("x,y\n1,2\n", Encoding.UTF8, "text/csv")), HttpStatusCode.BadRequest)).Text("field"));
        var csvCell = await Problem(await client.PostAsync("/encode?model=m", new StringContent("x,y\n1,2\n3,abc\n", Encoding.UTF8, "text/csv")), HttpStatusCode.BadRequest);
        Assert.Equal((3, 2, "y"), (csvCell.GetProperty("line").GetInt32(), csvCell.GetProperty("row").GetInt32(), csvCell.Text("column")));

        Assert.Equal("shape", (await Problem(await client.PostAsync("/score?model=m", Npy(NpyBytes.Float32(1, 3, [1, 2, 3]))), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("shape", (await Problem(await client.PostAsync("/score?model=m", Npy(NpyBytes.Build("<f4", "(2, 2)", new byte[12]))), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("descr", (await Problem(await client.PostAsync("/score?model=m", Npy(NpyBytes.Build("<i4", "(1, 2)", new byte[8]))), HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("fortran_order", (await Problem(await client.PostAsync("/score?model=m", Npy(NpyBytes.Build("<f4", "(1, 2)", new byte[8], fortran: "True"))), HttpStatusCode.BadRequest)).Text("field"));
        var nan = await Problem(await client.PostAsync("/score?model=m", Npy(NpyBytes.Float32(2, 2, [1, 2, 3, float.NaN]))), HttpStatusCode.BadRequest);
        Assert.Equal((2, "y"), (nan.GetProperty("row").GetInt32(), nan.Text("column")));
        Assert.Equal("$", (await Problem(await client.PostAsync("/score?model=m", Npy("not numpy"u8.ToArray())), HttpStatusCode.BadRequest)).Text("field"));

        await Problem(await client.PostAsync("/score", new StringContent("<x/>", Encoding.UTF8, "application/xml")), HttpStatusCode.UnsupportedMediaType);
        var big = "{\"model\":\"m\",\"rows\":[" + string.Join(',', Enumerable.Repeat("[1.000001,2.000001]", 300)) + "]}";
        Assert.Contains("MaxRequestBytes", (await Problem(await client.PostAsync("/score", Json(big)), HttpStatusCode.RequestEntityTooLarge)).Text("detail"));
    }

    [Fact]
    public async Task At_capacity_requests_are_refused_at_once_with_retry_after()
    {
        await using var factory = new FlowServiceFactory(settings: new() { ["FlowService:Scoring:MaxConcurrentRequests"] = "1", ["FlowService:Scoring:RetryAfterSeconds"] = "2" });
        var client = factory.CreateClient();
        await TrainAsync(client, "m");
        var admission = factory.Services.GetRequiredService<InferenceAdmission>();

        using (admission.TryEnter())
        {
            var refused = await client.PostAsJsonAsync("/score", new { model = "m", rows = Points });
            var problem = await refused.AssertProblem(HttpStatusCode.ServiceUnavailable);
            Assert.Contains("MaxConcurrentRequests", problem.Text("detail"));
            Assert.Equal(TimeSpan.FromSeconds(2), refused.Headers.RetryAfter?.Delta);
            await (await client.GetAsync("/sample?model=m&n=3")).AssertProblem(HttpStatusCode.ServiceUnavailable);
        }
        Assert.Equal(4, (await LogProbAsync(await client.PostAsJsonAsync("/score", new { model = "m", rows = Points }))).Length);
        // The request's admission is released when the response completes, a moment after the client has read its end.
        for (var deadline = DateTime.UtcNow.AddSeconds(10); admission.InFlight != 0 && DateTime.UtcNow < deadline;)
            await Task.Delay(10);
        Assert.Equal(0, admission.InFlight);
        var metrics = await (await client.GetAsync("/metrics")).Content.ReadAsStringAsync();
        Assert.Contains("flowservice_inference_rejected_total{reason=\"concurrency\"} 2", metrics);
        Assert.Contains("flowservice_inference_queue_delay_seconds_count{operation=\"score\"}", metrics);
    }

    [Fact]
    public async Task Aliased_versions_are_loaded_and_run_before_the_first_request()
    {
        string dataPath = Path.Combine(Path.GetTempPath(), "flowservice-api-tests", Guid.NewGuid().ToString("N"));
        try
        {
            await using (var first = new FlowServiceFactory(dataPath: dataPath))
            {
                var client = first.CreateClient();
                await TrainAsync(client, "m");
                // Moving an alias warms the version up before the alias points at it.
                await (await client.PutAsJsonAsync("/models/m/aliases/production", new { version = 1 })).AssertJson(HttpStatusCode.OK);
                Assert.True(first.Services.GetRequiredService<ScoringService>().Cache.Contains(("m", 1)));
            }
            await using var second = new FlowServiceFactory(worker: false, dataPath: dataPath);
            var scoring = second.Services.GetRequiredService<ScoringService>();
            Assert.True(scoring.Cache.Contains(("m", 1)), "the aliased version was loaded at start");
            Assert.Equal(0, scoring.Cache.Misses - 1);
            Assert.Equal(4, (await LogProbAsync(await second.CreateClient().PostAsJsonAsync("/score", new { model = "m", rows = Points }))).Length);
            Assert.Equal(1, scoring.Cache.Misses);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dataPath, recursive: true);
        }
    }
}
