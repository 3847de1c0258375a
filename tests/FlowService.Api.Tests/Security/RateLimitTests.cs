using System.Net;
using System.Net.Http.Json;
using System.Text;
using FlowService.Training.Keys;

namespace FlowService.Api.Tests.Security;

/// <summary>Per-key limits with ASP.NET Core's rate limiter: a key over its budget gets 429 problems with Retry-After; other keys are untouched.</summary>
public class RateLimitTests
{
    [Fact]
    public async Task Inference_requests_over_a_keys_rate_are_429_problems_with_retry_after_and_other_keys_carry_on()
    {
        await using var factory = AuthFixture.Create(settings: new()
        {
            ["FlowService:RateLimits:InferenceRequestsPerSecond"] = "1",
            ["FlowService:RateLimits:InferenceBurst"] = "3",
        });
        var (_, first) = await factory.CreateKeyAsync(ApiRoles.Scorer, "first");
        var (_, second) = await factory.CreateKeyAsync(ApiRoles.Scorer, "second");
        var busy = factory.Client(first);
        // The burst passes (to a 404: no such model), then the bucket is empty; it refills by one token a second, so
        // a slow machine may let one more through per second elapsed.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var answers = new List<HttpResponseMessage>();
        for (int i = 0; i < 10; i++)
            answers.Add(await busy.GetAsync("/sample?model=m"));
        int passed = answers.Count(a => a.StatusCode == HttpStatusCode.NotFound);
        Assert.InRange(passed, 3, 3 + (int)Math.Ceiling(clock.Elapsed.TotalSeconds));
        Assert.Equal(10 - passed, answers.Count(a => a.StatusCode == HttpStatusCode.TooManyRequests));
        var response = answers.Last(a => a.StatusCode == HttpStatusCode.TooManyRequests);
        var problem = await response.AssertProblem(HttpStatusCode.TooManyRequests);
        Assert.Contains("InferenceRequestsPerSecond", problem.Text("detail"));
        Assert.True(int.Parse(response.Headers.GetValues("Retry-After").Single()) >= 1);
        await (await busy.PostAsJsonAsync("/score", new { model = "m", rows = new[] { new[] { 1.0 } } })).AssertProblem(HttpStatusCode.TooManyRequests);

        await (await factory.Client(second).GetAsync("/sample?model=m")).AssertProblem(HttpStatusCode.NotFound);
        // Other groups are not inference: the busy key still reads.
        Assert.Equal(HttpStatusCode.OK, (await busy.GetAsync("/models")).StatusCode);
    }

    [Fact]
    public async Task Job_submissions_over_a_keys_hourly_budget_are_429_problems()
    {
        await using var factory = AuthFixture.Create(settings: new() { ["FlowService:RateLimits:JobsPerHour"] = "2" });
        var (_, key) = await factory.CreateKeyAsync(ApiRoles.Trainer);
        var trainer = factory.Client(key);
        var dataset = await (await trainer.PostAsync("/datasets?name=d", new StringContent("a,b\n1,2\n3,5\n4,4\n", Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created);
        for (int i = 0; i < 2; i++)
            await (await trainer.PostAsJsonAsync("/jobs", new { datasetId = dataset.Text("id"), model = "m" })).AssertJson(HttpStatusCode.Accepted);
        var response = await trainer.PostAsJsonAsync("/jobs", new { datasetId = dataset.Text("id"), model = "m" });
        Assert.Contains("JobsPerHour", (await response.AssertProblem(HttpStatusCode.TooManyRequests)).Text("detail"));
        Assert.True(response.Headers.RetryAfter is not null);
        Assert.Equal(2, (await (await trainer.GetAsync("/jobs")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
        // The admin's own budget is separate.
        await (await factory.Client(AuthFixture.AdminKey).PostAsJsonAsync("/jobs", new { datasetId = dataset.Text("id"), model = "m" })).AssertJson(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task A_key_may_have_only_so_many_jobs_queued_at_once()
    {
        await using var factory = AuthFixture.Create(settings: new() { ["FlowService:RateLimits:QueuedJobsPerKey"] = "2" });
        var (_, key) = await factory.CreateKeyAsync(ApiRoles.Trainer);
        var trainer = factory.Client(key);
        var dataset = (await (await trainer.PostAsync("/datasets?name=d", new StringContent("a,b\n1,2\n3,5\n4,4\n", Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created)).Text("id");
        var first = await (await trainer.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m" })).AssertJson(HttpStatusCode.Accepted);
        await (await trainer.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m" })).AssertJson(HttpStatusCode.Accepted);
        var refused = await trainer.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m" });
        Assert.Contains("QueuedJobsPerKey", (await refused.AssertProblem(HttpStatusCode.TooManyRequests)).Text("detail"));
        Assert.NotNull(refused.Headers.RetryAfter);
        // Another key's queue is its own; a cancelled job frees a place.
        await (await factory.Client(AuthFixture.AdminKey).PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m" })).AssertJson(HttpStatusCode.Accepted);
        Assert.Equal(HttpStatusCode.OK, (await trainer.PostAsync($"/jobs/{first.Text("id")}/cancel", null)).StatusCode);
        await (await trainer.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m" })).AssertJson(HttpStatusCode.Accepted);
    }

    [Fact]
    public async Task A_key_at_its_running_jobs_limit_waits_in_the_queue_while_other_keys_jobs_train()
    {
        await using var factory = new FlowServiceFactory(settings: new()
        {
            ["FlowService:Auth:BootstrapAdminKey"] = AuthFixture.AdminKey,
            ["FlowService:Worker:Concurrency"] = "2",
            ["FlowService:RateLimits:RunningJobsPerKey"] = "1",
        });
        var (_, key) = await factory.CreateKeyAsync(ApiRoles.Trainer);
        var trainer = factory.Client(key);
        var admin = factory.Client(AuthFixture.AdminKey);
        var csv = new StringBuilder("a,b\n");
        for (int i = 0; i < 64; i++)
            csv.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i % 7},{(i * 3) % 11}\n");
        string dataset = (await (await trainer.PostAsync("/datasets?name=d", new StringContent(csv.ToString(), Encoding.UTF8, "text/csv"))).AssertJson(HttpStatusCode.Created)).Text("id")!;
        async Task<string> Submit(HttpClient client, int epochs) =>
            (await (await client.PostAsJsonAsync("/jobs", new { datasetId = dataset, model = "m", training = new { epochs, patience = epochs } })).AssertJson(HttpStatusCode.Accepted)).Text("id")!;
        async Task<string> State(string id) => (await (await admin.GetAsync($"/jobs/{id}")).AssertJson(HttpStatusCode.OK)).Text("state")!;
        async Task Until(Func<Task<bool>> done)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!await done())
            {
                Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "timed out");
                await Task.Delay(50);
            }
        }

        // Patience as long as the epochs: the first job trains until it is cancelled.
        string long1 = await Submit(trainer, 100_000);
        string second = await Submit(trainer, 1);
        await Until(async () => await State(long1) == "running");
        // Two worker loops poll every 50 ms and one is idle, yet the key's second job stays queued...
        await Task.Delay(1000);
        Assert.Equal("queued", await State(second));
        // ...while another key's job, queued after it, is claimed and trains on the idle loop.
        string other = await Submit(admin, 1);
        await Until(async () => await State(other) is "succeeded" or "failed");
        Assert.Equal("queued", await State(second));
        // The running job ends (cancelled): the waiting one starts.
        Assert.Equal(HttpStatusCode.Accepted, (await trainer.PostAsync($"/jobs/{long1}/cancel", null)).StatusCode);
        await Until(async () => await State(second) is "running" or "succeeded" or "failed");
    }
}
