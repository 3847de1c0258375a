using System.Net;
using System.Net.Http.Json;
using System.Text;

namespace FlowService.Api.Tests.ScaleOut;

/// <summary>
/// Two API replicas over one PostgreSQL and one data folder: a version trained through one and an alias
/// moved or a version deleted through the other are what the next request to either serves (each replica
/// caches loaded flows per immutable version, never which version an alias means).
/// </summary>
public class ReplicaAliasTests
{
    // The alias mechanics under test do not depend on the flow: a small explicit one keeps the job seconds long on a
    // loaded machine, where the default (cross-validated "auto") search on 500 rows took close to the deadline.
    static readonly object SmallFlow = new { type = "realnvp", layers = 2, hidden = new[] { 16 } };

    [PostgresFact]
    public async Task Alias_moves_and_deletes_on_one_replica_are_served_at_once_by_the_other()
    {
        await using var trainer = new FlowServiceFactory(StoreBackend.Postgres);
        await using var replica = new FlowServiceFactory(StoreBackend.Postgres, worker: false, dataPath: trainer.DataPath, postgres: trainer.PostgresConnection);
        var a = trainer.CreateClient();
        var b = replica.CreateClient();
        var csv = new StringBuilder("x,y\n");
        var random = new Random(8);
        for (int i = 0; i < 500; i++)
            csv.Append(FormattableString.Invariant($"{random.NextDouble() * 3:R},{random.NextDouble() + 4:R}\n"));
        string dataset = (await (await a.PostAsync("/datasets?name=s", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created)).Text("id")!;
        foreach (int epochs in new[] { 2, 6 })
        {
            string job = (await (await a.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "shared", flow = SmallFlow, training = new { epochs } })).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await (await b.GetAsync($"/jobs/{job}")).AssertJson(HttpStatusCode.OK)).Text("state") != "succeeded")
            {
                Assert.True(DateTime.UtcNow < deadline, "training did not finish");
                await Task.Delay(50);
            }
        }
        var body = new { model = "shared", rows = new[] { new[] { 1.0, 4.5 } } };
        async Task<int> Served(HttpClient client) => (await (await client.PostAsJsonAsync("/score", body)).AssertJson(HttpStatusCode.OK)).GetProperty("version").GetInt32();

        Assert.Equal(2, await Served(b));
        await (await a.PutAsJsonAsync("/models/shared/aliases/production", new { version = 1 })).AssertJson(HttpStatusCode.OK);
        Assert.Equal(1, await Served(b));
        await (await b.PutAsJsonAsync("/models/shared/aliases/production", new { version = 2 })).AssertJson(HttpStatusCode.OK);
        Assert.Equal(2, await Served(a));
        Assert.Equal(2, await Served(b));

        // Version 1, loaded in both replicas' caches, is deleted through one: neither serves it any more.
        var explicitOne = new { model = "shared", version = 1, rows = new[] { new[] { 1.0, 4.5 } } };
        await (await a.PostAsJsonAsync("/score", explicitOne)).AssertJson(HttpStatusCode.OK);
        await (await b.PostAsJsonAsync("/score", explicitOne)).AssertJson(HttpStatusCode.OK);
        Assert.Equal(HttpStatusCode.NoContent, (await a.DeleteAsync("/models/shared/versions/1")).StatusCode);
        Assert.Equal("version", (await (await b.PostAsJsonAsync("/score", explicitOne)).AssertProblem(HttpStatusCode.NotFound)).Text("field"));
        Assert.Equal("version", (await (await a.PostAsJsonAsync("/score", explicitOne)).AssertProblem(HttpStatusCode.NotFound)).Text("field"));
    }
}
