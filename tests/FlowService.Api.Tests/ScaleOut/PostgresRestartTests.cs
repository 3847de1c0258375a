using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace FlowService.Api.Tests.ScaleOut;

/// <summary>
/// PostgreSQL goes down while the service answers scores: every request fails fast with a 503 problem
/// (and Retry-After), readiness says storage is unreachable, and once the server is back the same
/// requests succeed again without a restart of the service. Runs on a cluster of its own, since it stops it.
/// </summary>
public class PostgresRestartTests
{
    [PostgresFact]
    public async Task Scores_fail_fast_with_503_while_postgres_is_down_and_recover_by_themselves()
    {
        await using var cluster = await PostgresCluster.StartAsync();
        string database = await cluster.CreateDatabaseOnThisClusterAsync();
        await using var factory = new FlowServiceFactory(StoreBackend.Postgres, postgres: database);
        var client = factory.CreateClient();
        var csv = new StringBuilder("x,y\n");
        var random = new Random(3);
        for (int i = 0; i < 400; i++)
            csv.Append(FormattableString.Invariant($"{random.NextDouble() * 4:R},{random.NextDouble() - 2:R}\n"));
        string dataset = (await (await client.PostAsync("/datasets?name=r", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created)).Text("id")!;
        string job = (await (await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "r", flow = new { type = "realnvp", layers = 2, hidden = new[] { 16 } }, training = new { epochs = 5 } })).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        // A small explicit flow: the restart under test does not depend on it, and the default search nears the deadline under load.
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await (await client.GetAsync($"/jobs/{job}")).AssertJson(HttpStatusCode.OK)).Text("state") != "succeeded")
        {
            Assert.True(DateTime.UtcNow < deadline, "the job did not succeed");
            await Task.Delay(50);
        }
        var score = new { model = "r", rows = new[] { new[] { 2.0, -1.5 } } };
        double before = (await (await client.PostAsJsonAsync("/score", score)).AssertJson(HttpStatusCode.OK)).GetProperty("logProb")[0].GetDouble();

        await cluster.StopServerAsync();
        for (int i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            var response = await client.PostAsJsonAsync("/score", score);
            var problem = await response.AssertProblem(HttpStatusCode.ServiceUnavailable);
            // Fail fast: a refused connection is answered at once, not after a timeout (the connect timeout is 5 s).
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(4), $"request {i} took {clock.Elapsed}");
            Assert.Equal("Storage unavailable.", problem.Text("title"));
            Assert.NotNull(response.Headers.RetryAfter);
        }
        await (await client.GetAsync("/models/r")).AssertProblem(HttpStatusCode.ServiceUnavailable);
        var ready = await (await client.GetAsync("/health/ready")).AssertJson(HttpStatusCode.ServiceUnavailable);
        Assert.Equal("Unhealthy", ready.Text("status"));
        Assert.Equal("Unhealthy", ready.GetProperty("entries").GetProperty("storage").Text("status"));

        await cluster.StartServerAsync();
        deadline = DateTime.UtcNow.AddSeconds(30);
        HttpResponseMessage after;
        while ((after = await client.PostAsJsonAsync("/score", score)).StatusCode != HttpStatusCode.OK)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, after.StatusCode);
            Assert.True(DateTime.UtcNow < deadline, "scoring did not recover after PostgreSQL came back");
            await Task.Delay(100);
        }
        Assert.Equal(before, (await after.AssertJson(HttpStatusCode.OK)).GetProperty("logProb")[0].GetDouble());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health/ready")).StatusCode);
    }
}
