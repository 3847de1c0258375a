using System.Net;
using System.Net.Http.Json;
using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// Training specs are sized by arithmetic before a job is queued: the review's 64-layer MAF with eight 4096-wide hidden
/// layers is refused with a 400 naming the field, allocating almost nothing; a batch too large for the memory budget
/// names training.batchSize; within the budget, jobs queue as before.
/// </summary>
public class ResourceBudgetTests
{
    const string Csv = "a,b,c,d\n1,2,3,4\n2,1,5,3\n3,5,4,1\n4,3,3,2\n";

    static async Task<(FlowServiceFactory Factory, HttpClient Client, string Dataset)> StartAsync(Dictionary<string, string?>? settings = null)
    {
        var factory = new FlowServiceFactory(worker: false, settings: settings);
        var client = factory.CreateClient();
        var upload = await (await client.PostAsync("/datasets?name=d", new StringContent(Csv, Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created);
        return (factory, client, upload.Text("id")!);
    }

    [Fact]
    public async Task The_64_layer_maf_with_eight_4096_wide_layers_is_refused_without_allocating_it()
    {
        var (factory, client, dataset) = await StartAsync();
        await using var _ = factory;
        object Request(string type) => new { datasetId = dataset, model = "huge", flow = new { type, layers = 64, hidden = Enumerable.Repeat(4096, 8).ToArray() } };
        // Once to warm up the endpoint (JIT, serializers), then measured.
        await (await client.PostAsJsonAsync("/jobs", Request("maf"))).AssertProblem(HttpStatusCode.BadRequest);

        long before = GC.GetTotalAllocatedBytes(precise: true);
        var problem = await (await client.PostAsJsonAsync("/jobs", Request("maf"))).AssertProblem(HttpStatusCode.BadRequest);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
        Assert.Equal("flow", problem.Text("field"));
        Assert.Contains("FlowService:Limits:MaxParameters", problem.Text("detail"));
        Assert.True(allocated < 10_000_000, $"{allocated:N0} bytes allocated while refusing the spec");

        foreach (var type in new[] { "realnvp", "nsf", "glow", "nice" })
            Assert.Equal("flow", (await (await client.PostAsJsonAsync("/jobs", Request(type))).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal(0, (await (await client.GetAsync("/jobs")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }

    [Fact]
    public async Task Memory_beyond_the_budget_names_the_batch_size_when_the_batch_is_what_is_too_large()
    {
        var (factory, client, dataset) = await StartAsync(new() { ["FlowService:Limits:MaxTrainingMemoryBytes"] = "100000000" });
        await using var _ = factory;
        var spec = new { type = "realnvp", layers = 8, hidden = new[] { 512, 512 } };
        var tooBig = await (await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m", flow = spec, training = new { batchSize = 100_000 } }))
            .AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("training.batchSize", tooBig.Text("field"));
        Assert.Contains("FlowService:Limits:MaxTrainingMemoryBytes", tooBig.Text("detail"));
        await (await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m", flow = spec, training = new { batchSize = 256 } })).AssertJson(HttpStatusCode.Accepted);

        var wide = new { type = "maf", layers = 8, hidden = new[] { 2048, 2048 } };
        await using var strict = new FlowServiceFactory(worker: false, settings: new() { ["FlowService:Limits:MaxParameters"] = "1000000" });
        var strictClient = strict.CreateClient();
        var id = (await (await strictClient.PostAsync("/datasets?name=d", new StringContent(Csv, Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created)).Text("id");
        var refused = await (await strictClient.PostAsJsonAsync("/jobs", new { datasetId = id, model = "m", flow = wide })).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Contains("1,000,000", refused.Text("detail"));
    }

    [Fact]
    public async Task The_parameter_budget_also_guards_loading_a_model_for_scoring()
    {
        string dataPath = Path.Combine(Path.GetTempPath(), "flowservice-api-tests", Guid.NewGuid().ToString("N"));
        try
        {
            await using (var trainer = new FlowServiceFactory(dataPath: dataPath))
                await Scoring.InferencePayloadTests.TrainAsync(trainer.CreateClient(), "m");
            // The same data folder served by a process with a lower limit (e.g. a smaller scoring replica).
            await using var server = new FlowServiceFactory(worker: false, dataPath: dataPath, settings: new() { ["FlowService:Limits:MaxParameters"] = "1000" });
            var problem = await (await server.CreateClient().PostAsJsonAsync("/score", new { model = "m", rows = new[] { new[] { 3.0, -1.0 } } }))
                .AssertProblem(HttpStatusCode.Conflict);
            Assert.Contains("FlowService:Limits:MaxParameters", problem.Text("detail"));
            Assert.Equal(0, server.Services.GetRequiredService<FlowService.Api.Scoring.ScoringService>().Cache.Count);
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dataPath, recursive: true);
        }
    }
}
