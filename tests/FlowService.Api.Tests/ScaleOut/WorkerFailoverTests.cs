using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Npgsql;

namespace FlowService.Api.Tests.ScaleOut;

/// <summary>
/// The scale-out layout with real processes: one API and two workers (the built binary, roles api and
/// worker) over one PostgreSQL and one shared data folder. A worker is killed with SIGKILL in the middle
/// of a job; its lease runs out, the other worker resumes the job from its checkpoint, and every job ends
/// with exactly one version and an epoch history without repeats. The resumed job's result matches an
/// uninterrupted run of the same request.
/// </summary>
public class WorkerFailoverTests(Xunit.Abstractions.ITestOutputHelper output)
{
    const int Epochs = 150;

    static object Job(string dataset, string model, int seed) => new
    {
        datasetId = dataset,
        model,
        flow = new { type = "realnvp", layers = 4, hidden = new[] { 32, 32 } },
        training = new { epochs = Epochs, batchSize = 16, learningRate = 0.001, patience = Epochs, seed },
    };

    [PostgresFact]
    public async Task A_killed_worker_s_job_resumes_on_the_other_worker_with_one_version_and_the_uninterrupted_result()
    {
        string database = await PostgresCluster.CreateDatabaseAsync();
        string dataPath = Path.Combine(Path.GetTempPath(), "flowservice-failover", Guid.NewGuid().ToString("N"));
        var common = new Dictionary<string, string>
        {
            ["ConnectionStrings__Postgres"] = database,
            ["FlowService__DataPath"] = dataPath,
            ["FlowService__Worker__LeaseSeconds"] = "4",
            ["FlowService__Worker__HeartbeatMilliseconds"] = "200",
            ["FlowService__Worker__PollIntervalMilliseconds"] = "100",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["DOTNET_NOLOGO"] = "1",
        };
        Dictionary<string, string> As(string role) => new(common) { ["FlowService__Role"] = role };
        var processes = new List<ServiceProcess>();
        try
        {
            var api = ServiceProcess.Start("api", As("api"));
            processes.Add(api);
            var workers = new[] { ServiceProcess.Start("worker-1", As("worker")), ServiceProcess.Start("worker-2", As("worker")) };
            processes.AddRange(workers);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            await Task.WhenAll(processes.Select(p => p.WaitReadyAsync(TimeSpan.FromSeconds(60))));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: three processes ready");
            // A worker serves probes and metrics only; the API process runs no worker.
            Assert.Equal(HttpStatusCode.NotFound, (await workers[0].Client.GetAsync("/models")).StatusCode);
            var apiReady = await (await api.Client.GetAsync("/health/ready")).AssertJson(HttpStatusCode.OK);
            Assert.Equal("Not run by this process.", apiReady.GetProperty("entries").GetProperty("worker").Text("description"));

            var client = api.Client;
            string dataset = (await (await client.PostAsync("/datasets?name=failover", new StringContent(EndToEndTests.GaussianCsv(1200, 5), Encoding.UTF8, "text/csv")))
                .AssertJson(HttpStatusCode.Created)).Text("id")!;
            var jobs = new List<string>();
            for (int seed = 1; seed <= 4; seed++)
                jobs.Add((await (await client.PostAsJsonAsync("/jobs", Job(dataset, "failover", seed))).AssertJson(HttpStatusCode.Accepted)).Text("id")!);

            // Kill -9 the worker of the first job seen a few epochs in, well before its end.
            var (victimJob, victimPid) = await RunningJobAsync(database, minEpoch: 5, maxEpoch: Epochs / 2);
            var victim = workers.Single(w => w.ProcessId == victimPid);
            victim.KillHard();
            int epochAtKill = (await JobAsync(client, victimJob)).GetProperty("epoch").GetInt32();
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: killed {victim.Name} at epoch {epochAtKill} of job {victimJob}");

            var finished = new Dictionary<string, JsonElement>();
            foreach (string job in jobs)
                finished[job] = await WaitFinishedAsync(client, job, TimeSpan.FromSeconds(180), processes);
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: all jobs ended; elapsed per job: " +
                string.Join(", ", finished.Values.Select(j => $"{j.GetProperty("elapsedSeconds").GetDouble():F1} s ({j.GetProperty("attempts").GetInt32()} attempts)")));
            foreach (var (job, state) in finished)
            {
                Assert.True(state.Text("state") == "succeeded", $"job {job}: {state}\n{string.Join('\n', processes.Select(p => p.Output))}");
                Assert.Equal(Epochs, state.GetProperty("epoch").GetInt32());
            }
            var resumed = finished[victimJob];
            Assert.True(resumed.GetProperty("attempts").GetInt32() >= 2, $"the killed job was not claimed again: {resumed}");
            Assert.True(epochAtKill < Epochs);

            // Exactly one version per job, dense; every epoch recorded once, in order, for every job.
            var model = await (await client.GetAsync("/models/failover")).AssertJson(HttpStatusCode.OK);
            Assert.Equal([1, 2, 3, 4], model.GetProperty("versions").EnumerateArray().Select(v => v.GetInt32()));
            var versionJobs = new List<string>();
            for (int v = 1; v <= 4; v++)
            {
                var version = await (await client.GetAsync($"/models/failover/versions/{v}")).AssertJson(HttpStatusCode.OK);
                versionJobs.Add(version.Text("jobId")!);
                Assert.Equal(v, finished[version.Text("jobId")!].GetProperty("modelVersion").GetInt32());
            }
            Assert.Equal(jobs.Order(), versionJobs.Order());
            await using (var connection = new NpgsqlConnection(database))
            {
                await connection.OpenAsync();
                await using var history = new NpgsqlCommand(
                    "SELECT job_id, COUNT(*), COUNT(DISTINCT epoch), MIN(epoch), MAX(epoch) FROM job_epochs GROUP BY job_id", connection);
                await using var reader = await history.ExecuteReaderAsync();
                int seen = 0;
                while (await reader.ReadAsync())
                {
                    seen++;
                    string job = reader.GetString(0);
                    long count = reader.GetInt64(1);
                    Assert.Equal(count, reader.GetInt64(2));
                    Assert.Equal((1, Epochs), (reader.GetInt32(3), reader.GetInt32(4)));
                    Assert.Equal(count, finished[job].GetProperty("trainNll").GetArrayLength());
                    // The trainer reports an epoch before it persists its state, and a resumed run replaces the records past
                    // its state: every epoch has exactly one record, however often the job was interrupted.
                    Assert.Equal(Epochs, count);
                }
                Assert.Equal(4, seen);
            }

            // The same request again, uninterrupted, on the surviving worker: the resumed run's NLL matches it.
            var survivor = finished[victimJob];
            var request = await JobAsync(client, victimJob);
            int seedOfVictim = request.GetProperty("training").GetProperty("seed").GetInt32();
            string reference = (await (await client.PostAsJsonAsync("/jobs", Job(dataset, "reference", seedOfVictim))).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
            var uninterrupted = await WaitFinishedAsync(client, reference, TimeSpan.FromSeconds(120), processes);
            Assert.Equal("succeeded", uninterrupted.Text("state"));
            output.WriteLine($"{clock.Elapsed.TotalSeconds:F1} s: uninterrupted reference ended");
            Assert.Equal(1, uninterrupted.GetProperty("attempts").GetInt32());
            double resumedFinal = survivor.GetProperty("trainNll").EnumerateArray().Last().GetDouble();
            double referenceFinal = uninterrupted.GetProperty("trainNll").EnumerateArray().Last().GetDouble();
            Assert.True(Math.Abs(resumedFinal - referenceFinal) < 0.01, $"final train NLL {resumedFinal} (resumed) vs {referenceFinal} (uninterrupted)");
            var resumedVersion = await (await client.GetAsync($"/models/failover/versions/{survivor.GetProperty("modelVersion").GetInt32()}")).AssertJson(HttpStatusCode.OK);
            var referenceVersion = await (await client.GetAsync("/models/reference/versions/1")).AssertJson(HttpStatusCode.OK);
            foreach (string metric in new[] { "trainNll", "validationNll", "testNll" })
            {
                double a = resumedVersion.GetProperty("metrics").GetProperty(metric).GetDouble(), b = referenceVersion.GetProperty("metrics").GetProperty(metric).GetDouble();
                Assert.True(Math.Abs(a - b) < 0.01, $"{metric}: {a} (resumed) vs {b} (uninterrupted)");
            }
            // Scores served from the resumed version's checkpoint agree with the uninterrupted model's.
            double[][] rows = [[3, -1], [5, 0.2]];
            var scoreResumed = await (await client.PostAsJsonAsync("/score", new { model = "failover", version = survivor.GetProperty("modelVersion").GetInt32(), rows })).AssertJson(HttpStatusCode.OK);
            var scoreReference = await (await client.PostAsJsonAsync("/score", new { model = "reference", rows })).AssertJson(HttpStatusCode.OK);
            for (int i = 0; i < rows.Length; i++)
                Assert.True(Math.Abs(scoreResumed.GetProperty("logProb")[i].GetDouble() - scoreReference.GetProperty("logProb")[i].GetDouble()) < 0.01);
        }
        finally
        {
            foreach (var process in processes)
                await process.DisposeAsync();
            try
            {
                Directory.Delete(dataPath, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A running job between the two epochs and the pid of the worker holding it (worker ids start with host-pid-).</summary>
    static async Task<(string Job, int Pid)> RunningJobAsync(string database, int minEpoch, int maxEpoch)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            await using var command = new NpgsqlCommand(
                "SELECT id, worker_id FROM jobs WHERE state = 'running' AND epoch BETWEEN @min AND @max ORDER BY created_at LIMIT 1", connection);
            command.Parameters.AddWithValue("min", minEpoch);
            command.Parameters.AddWithValue("max", maxEpoch);
            await using var reader = await command.ExecuteReaderAsync();
            if (await reader.ReadAsync())
            {
                string worker = reader.GetString(1);
                string[] parts = worker.Split('-');
                return (reader.GetString(0), int.Parse(parts[^2].Split('/')[0], CultureInfo.InvariantCulture));
            }
            await Task.Delay(20);
        }
        throw new TimeoutException("no job reached the kill window");
    }

    static async Task<JsonElement> JobAsync(HttpClient client, string job) =>
        await (await client.GetAsync($"/jobs/{job}")).AssertJson(HttpStatusCode.OK);

    static async Task<JsonElement> WaitFinishedAsync(HttpClient client, string job, TimeSpan timeout, IEnumerable<ServiceProcess> processes)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var state = await JobAsync(client, job);
            if (state.Text("state") is "succeeded" or "failed" or "cancelled")
                return state;
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"job {job} did not finish: {state}\n{string.Join('\n', processes.Select(p => p.Output))}");
            await Task.Delay(100);
        }
    }
}
