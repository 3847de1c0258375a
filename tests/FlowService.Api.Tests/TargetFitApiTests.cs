using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.Api.Tests;

/// <summary>POST /jobs with a target instead of a dataset: a reverse-KL fit end to end over HTTP, and the 400s of bad targets.</summary>
public sealed class TargetFitApiTests
{
    static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task A_target_fit_reports_importance_statistics_registers_log_Z_and_serves_its_density(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend);
        var client = factory.CreateClient();
        var response = await client.PostAsync("/jobs", Body("""
            {"model": "mix", "target": {"name": "gaussianMixture", "dimensions": 2, "parameters": {"components": 2, "radius": 1.5},
                                        "stepsPerEpoch": 40, "evaluationSamples": 1024},
             "flow": {"type": "realnvp", "layers": 6, "hidden": [32, 32]}, "training": {"epochs": 8, "batchSize": 256, "learningRate": 0.003}}
            """));
        var queued = await response.AssertJson(HttpStatusCode.Accepted);
        Assert.Equal(JsonValueKind.Null, queued.GetProperty("datasetId").ValueKind);
        Assert.Equal("gaussianMixture", queued.GetProperty("target").Text("name"));
        var job = await EndToEndTests.WaitAsync(client, queued.Text("id")!, j => j.Text("state") is "succeeded" or "failed", seconds: 120);
        Assert.True(job.Text("state") == "succeeded", job.ToString());
        var importance = job.GetProperty("importance");
        Assert.Equal(job.GetProperty("epoch").GetInt32(), importance.GetArrayLength());
        var last = importance[importance.GetArrayLength() - 1];
        Assert.True(last.GetProperty("effectiveSampleSize").GetDouble() > 0.5, last.ToString());
        Assert.Equal(1024, last.GetProperty("samples").GetInt32());

        var version = await (await client.GetAsync("/models/mix/versions/1")).AssertJson(HttpStatusCode.OK);
        Assert.Equal(JsonValueKind.Null, version.GetProperty("datasetId").ValueKind);
        Assert.Equal(2, version.GetProperty("target").GetProperty("dimensions").GetInt32());
        var fit = version.GetProperty("metrics").GetProperty("target");
        double logZ = fit.GetProperty("logZ").GetDouble(), known = fit.GetProperty("knownLogZ").GetDouble();
        Assert.True(Math.Abs(logZ - known) < 0.1, fit.ToString());
        Assert.Equal(2, fit.GetProperty("modesFound").GetInt32());
        Assert.Equal("x0,x1", string.Join(",", version.GetProperty("columns").EnumerateArray().Select(c => c.GetString())));

        // /score is the flow's normalized density: near the target's log p̃ - log Z where the mass is.
        double[][] rows = [[1.5, 0], [-1.5, 0], [1.0, -0.6], [-2.2, 0.5]];
        var score = await (await client.PostAsJsonAsync("/score", new { model = "mix", rows })).AssertJson(HttpStatusCode.OK);
        var logProb = score.GetProperty("logProb").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        for (int i = 0; i < rows.Length; i++)
        {
            double a = -0.5 * (Math.Pow(rows[i][0] - 1.5, 2) + rows[i][1] * rows[i][1]), b = -0.5 * (Math.Pow(rows[i][0] + 1.5, 2) + rows[i][1] * rows[i][1]);
            double truth = Math.Log(Math.Exp(a) + Math.Exp(b)) - known;
            Assert.True(Math.Abs(logProb[i] - truth) < 0.15, $"row {i}: {logProb[i]} vs {truth}");
        }
        var sample = await (await client.GetAsync("/sample?model=mix&n=5&seed=1")).AssertJson(HttpStatusCode.OK);
        Assert.Equal(5, sample.GetProperty("rows").GetArrayLength());
    }

    [Fact]
    public async Task The_swagger_examples_of_target_fits_are_accepted()
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        foreach (string example in new[] { FlowService.Api.Hosting.ApiExamples.CreateTargetJob, FlowService.Api.Hosting.ApiExamples.CreateExpressionJob })
        {
            var job = await (await client.PostAsync("/jobs", Body(example))).AssertJson(HttpStatusCode.Accepted);
            Assert.Equal("queued", job.Text("state"));
            Assert.Equal(JsonValueKind.Object, job.GetProperty("target").ValueKind);
        }
        var doc = await (await client.GetAsync("/swagger/v1/swagger.json")).AssertJson(HttpStatusCode.OK);
        var examples = doc.GetProperty("paths").GetProperty("/jobs").GetProperty("post").GetProperty("requestBody").GetProperty("content")
            .GetProperty("application/json").GetProperty("examples");
        Assert.Equal(3, examples.EnumerateObject().Count());
    }

    [Theory]
    [InlineData("""{"model": "m", "target": {"expression": "-0.5*(x0^2 + * x1^2)", "dimensions": 2}}""", "target.expression", 13)]
    [InlineData("""{"model": "m", "target": {"expression": "-0.5*(x0^2 + x2^2)", "dimensions": 2}}""", "target.expression", 13)]
    [InlineData("""{"model": "m", "target": {"name": "funnel", "dimensions": 1}}""", "target.dimensions", null)]
    [InlineData("""{"model": "m", "target": {"name": "funnel", "dimensions": 4, "parameters": {"scale": "big"}}}""", "target.parameters.scale", null)]
    [InlineData("""{"model": "m", "target": {"name": "moons", "dimensions": 2}}""", "target.name", null)]
    [InlineData("""{"model": "m", "target": "funnel"}""", "target", null)]
    [InlineData("""{"model": "m", "datasetId": "abc", "target": {"name": "funnel", "dimensions": 4}}""", "target", null)]
    [InlineData("""{"model": "m", "contextColumns": ["a"], "target": {"name": "funnel", "dimensions": 4}}""", "contextColumns", null)]
    [InlineData("""{"model": "m", "target": {"name": "funnel", "dimensions": 4}, "flow": {"type": "nsf", "bins": 1}}""", "flow.bins", null)]
    [InlineData("""{"model": "m", "target": {"name": "funnel", "dimensions": 4}, "training": {"epochs": 0}}""", "training.epochs", null)]
    [InlineData("""{"model": "", "target": {"name": "funnel", "dimensions": 4}}""", "model", null)]
    public async Task Bad_targets_are_400_problems_naming_the_field_and_the_position(string body, string field, int? position)
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        var problem = await (await client.PostAsync("/jobs", Body(body))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal(field, problem.Text("field"));
        if (position is null)
            Assert.False(problem.TryGetProperty("position", out _));
        else
            Assert.Equal(position, problem.GetProperty("position").GetInt32());
        Assert.Equal(0, (await (await client.GetAsync("/jobs")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }
}
