using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace FlowService.Api.Tests;

public class JobsApiTests
{
    static async Task<string> UploadAsync(HttpClient client, string csv = "a,b,c\n1,2,3\n2,1,5\n3,5,4\n4,3,3\n")
    {
        var response = await client.PostAsync("/datasets?name=d", new StringContent(csv, Encoding.UTF8, "text/csv"));
        return (await response.AssertJson(HttpStatusCode.Created)).Text("id")!;
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Post_queues_a_job_with_defaults_and_location_then_get_list_and_cancel(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false);
        var client = factory.CreateClient();
        string dataset = await UploadAsync(client);

        var response = await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m1" });
        var job = await response.AssertJson(HttpStatusCode.Accepted);
        string id = job.Text("id")!;
        Assert.Equal($"/jobs/{id}", response.Headers.Location!.OriginalString);
        Assert.Equal("queued", job.Text("state"));
        Assert.Equal(50, job.GetProperty("epochs").GetInt32());
        Assert.Equal(256, job.GetProperty("training").GetProperty("batchSize").GetInt32());
        Assert.Equal(0, job.GetProperty("trainNll").GetArrayLength());

        Assert.Equal(id, (await (await client.GetAsync($"/jobs/{id}")).AssertJson(HttpStatusCode.OK)).Text("id"));
        Assert.Equal(id, (await (await client.GetAsync("/jobs?state=queued")).AssertJson(HttpStatusCode.OK))[0].Text("id"));
        Assert.Equal(0, (await (await client.GetAsync("/jobs?state=running")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
        await (await client.GetAsync("/jobs?state=bogus")).AssertProblem(HttpStatusCode.BadRequest);

        // A dataset in use by a queued job cannot be deleted.
        await (await client.DeleteAsync($"/datasets/{dataset}")).AssertProblem(HttpStatusCode.Conflict);

        var cancelled = await (await client.PostAsync($"/jobs/{id}/cancel", null)).AssertJson(HttpStatusCode.OK);
        Assert.Equal("cancelled", cancelled.Text("state"));
        await (await client.PostAsync($"/jobs/{id}/cancel", null)).AssertProblem(HttpStatusCode.Conflict);
        await (await client.PostAsync("/jobs/nope/cancel", null)).AssertProblem(HttpStatusCode.NotFound);
        await (await client.GetAsync("/jobs/nope")).AssertProblem(HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync($"/datasets/{dataset}")).StatusCode);
    }

    public static TheoryData<string, HttpStatusCode, string> InvalidJobs => new()
    {
        { """{"model":"m"}""", HttpStatusCode.BadRequest, "datasetId" },
        { """{"datasetId":"DATASET"}""", HttpStatusCode.BadRequest, "model" },
        { """{"datasetId":"DATASET","model":"has space"}""", HttpStatusCode.BadRequest, "model" },
        { """{"datasetId":"unknown","model":"m"}""", HttpStatusCode.NotFound, "datasetId" },
        { """{"datasetId":"DATASET","model":"m","training":{"epochs":0}}""", HttpStatusCode.BadRequest, "training.epochs" },
        { """{"datasetId":"DATASET","model":"m","training":{"learningRate":-1}}""", HttpStatusCode.BadRequest, "training.learningRate" },
        { """{"datasetId":"DATASET","model":"m","training":{"validationFraction":0.6,"testFraction":0.4}}""", HttpStatusCode.BadRequest, "training.testFraction" },
        { """{"datasetId":"DATASET","model":"m","training":{"epochs":"ten"}}""", HttpStatusCode.BadRequest, "$.training.epochs" },
        { """{"datasetId":"DATASET","model":"m","contextColumns":["zz"]}""", HttpStatusCode.BadRequest, "contextColumns[0]" },
        { """{"datasetId":"DATASET","model":"m","contextColumns":["a","b","c"]}""", HttpStatusCode.BadRequest, "contextColumns" },
        { """{"datasetId":"DATASET","model":"m","flow":[1]}""", HttpStatusCode.BadRequest, "flow" },
        { """{"datasetId":""", HttpStatusCode.BadRequest, "$.datasetId" },
    };

    [Theory]
    [MemberData(nameof(InvalidJobs))]
    public async Task Invalid_job_requests_are_problems_naming_the_field(string body, HttpStatusCode status, string field)
    {
        await using var factory = new FlowServiceFactory(worker: false);
        var client = factory.CreateClient();
        string dataset = await UploadAsync(client);
        var content = new StringContent(body.Replace("DATASET", dataset), Encoding.UTF8, "application/json");
        var problem = await (await client.PostAsync("/jobs", content)).AssertProblem(status);
        Assert.Equal(field, problem.Text("field"));
        Assert.Equal(0, (await (await client.GetAsync("/jobs")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Events_stream_the_current_state_and_end_for_a_finished_job(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false);
        var client = factory.CreateClient();
        string dataset = await UploadAsync(client);
        var job = await (await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m1" })).AssertJson(HttpStatusCode.Accepted);
        string id = job.Text("id")!;
        await client.PostAsync($"/jobs/{id}/cancel", null);

        var response = await client.GetAsync($"/jobs/{id}/events");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync();
        Assert.Contains("event: progress", text);
        Assert.Contains("event: end", text);
        Assert.Contains("\"state\":\"cancelled\"", text);
        await (await client.GetAsync("/jobs/nope/events")).AssertProblem(HttpStatusCode.NotFound);
    }
}
