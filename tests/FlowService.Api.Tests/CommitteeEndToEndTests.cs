using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.Api.Tests;

/// <summary>
/// A small table's default job chooses by cross-validation and serves the winner's fold models as one committee: the
/// version says so, /score serves the committee's density, /encode and /decode are the first member's exact bijection,
/// /sample draws the committee, and a restarted service loads the same committee from its checkpoint.
/// </summary>
public class CommitteeEndToEndTests
{
    [Fact]
    public async Task A_small_default_job_serves_its_fold_models_as_one_committee_through_every_endpoint()
    {
        string dataPath = Path.Combine(Path.GetTempPath(), "flowservice-api-tests", Guid.NewGuid().ToString("N"));
        double[][] rows = [[3, -1], [5, 0.2], [1, -2.5], [3, 3]];
        double[] logProb;
        await using (var factory = new FlowServiceFactory(dataPath: dataPath))
        {
            var client = factory.CreateClient();
            string dataset = (await (await client.PostAsync("/datasets?name=small", new StringContent(EndToEndTests.GaussianCsv(300, 5), Encoding.UTF8, "text/csv")))
                .AssertJson(HttpStatusCode.Created)).Text("id")!;
            string job = (await (await client.PostAsJsonAsync("/jobs", new
            {
                datasetId = dataset,
                model = "small",
                flow = new { type = "auto", candidates = new object[] { new { type = "gaussian" }, new { type = "gaussianization", layers = 1, bins = 4 } } },
            })).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
            var done = await EndToEndTests.WaitAsync(client, job, EndToEndTests.Finished, seconds: 300);
            Assert.Equal("succeeded", done.Text("state"));

            var metrics = (await (await client.GetAsync("/models/small/versions/1")).AssertJson(HttpStatusCode.OK)).GetProperty("metrics");
            Assert.Equal(5, metrics.GetProperty("selection").GetProperty("folds").GetInt32());
            Assert.Equal(5, metrics.GetProperty("members").GetInt32());
            Assert.Contains("mean of the chosen candidate's 5 fold models", metrics.GetProperty("heldOut").GetString());

            var score = await (await client.PostAsJsonAsync("/score", new { model = "small", rows })).AssertJson(HttpStatusCode.OK);
            logProb = score.GetProperty("logProb").EnumerateArray().Select(v => v.GetDouble()).ToArray();
            Assert.All(logProb, v => Assert.True(double.IsFinite(v)));
            Assert.True(logProb[0] > logProb[3] + 10);

            // /encode and /decode: the first member's exact bijection; its log N(z) + log|det| is that member's density,
            // one of five averaged with the defensive Gaussian, so it may sit above or below the served log p, by at most
            // log 5 - log(1 - ε) on the side where it is above.
            var encoded = await (await client.PostAsJsonAsync("/encode", new { model = "small", rows })).AssertJson(HttpStatusCode.OK);
            var z = encoded.GetProperty("z");
            for (int i = 0; i < rows.Length; i++)
            {
                double z0 = z[i][0].GetDouble(), z1 = z[i][1].GetDouble();
                double member = -0.5 * (z0 * z0 + z1 * z1) - Math.Log(2 * Math.PI) + encoded.GetProperty("logDet")[i].GetDouble();
                Assert.True(member <= logProb[i] + Math.Log(5) - Math.Log(1 - metrics.GetProperty("defensiveWeight").GetDouble()) + 1e-4,
                    $"row {i}: first member {member}, served {logProb[i]}");
            }
            var decoded = await (await client.PostAsJsonAsync("/decode", new { model = "small", z })).AssertJson(HttpStatusCode.OK);
            for (int i = 0; i < rows.Length; i++)
                for (int j = 0; j < 2; j++)
                    Assert.True(Math.Abs(decoded.GetProperty("rows")[i][j].GetDouble() - rows[i][j]) <= 1e-4);

            // /sample draws the committee: the data's mean and covariance, reproducibly.
            var sample = await (await client.GetAsync("/sample?model=small&n=20000&seed=3")).AssertJson(HttpStatusCode.OK);
            var points = sample.GetProperty("rows").EnumerateArray().Select(r => (r[0].GetDouble(), r[1].GetDouble())).ToArray();
            Assert.InRange(points.Average(p => p.Item1), 2.7, 3.3);
            Assert.InRange(points.Average(p => p.Item2), -1.2, -0.8);
            var first = await (await client.GetAsync("/sample?model=small&n=5&seed=3")).AssertJson(HttpStatusCode.OK);
            var again = await (await client.GetAsync("/sample?model=small&n=5&seed=3")).AssertJson(HttpStatusCode.OK);
            Assert.Equal(first.GetProperty("rows").ToString(), again.GetProperty("rows").ToString());
        }

        // A restarted service loads the committee from its checkpoint and scores the same.
        await using (var restarted = new FlowServiceFactory(dataPath: dataPath, worker: false))
        {
            var score = await (await restarted.CreateClient().PostAsJsonAsync("/score", new { model = "small", rows })).AssertJson(HttpStatusCode.OK);
            Assert.Equal(logProb, score.GetProperty("logProb").EnumerateArray().Select(v => v.GetDouble()));
        }
        Directory.Delete(dataPath, recursive: true);
    }
}
