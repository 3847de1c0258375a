using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Jobs;

public class JobStoreTests
{
    static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    static JobRequest Request(string dataset = "d1") =>
        new(dataset, "m", JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone(), new TrainingParameters { Epochs = 5 }, []);

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Queue_claims_oldest_first_once_and_tracks_epochs(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var store = stores.Jobs;
        var first = await store.EnqueueAsync(Request());
        var second = await store.EnqueueAsync(Request());
        Assert.Equal(JobState.Queued, first.State);
        Assert.Equal(5, first.Epochs);
        Assert.Equal("realnvp", first.Request.Flow.GetProperty("type").GetString());
        Assert.Equal(5, first.Request.Training.Epochs);

        var claimed = await store.TryClaimAsync("w1", Lease);
        Assert.Equal(first.Id, claimed!.Id);
        Assert.Equal(JobState.Running, claimed.State);
        Assert.Equal(1, claimed.Attempts);
        Assert.NotNull(claimed.StartedAt);
        Assert.Equal(second.Id, (await store.TryClaimAsync("w2", Lease))!.Id);
        Assert.Null(await store.TryClaimAsync("w3", Lease));

        Assert.True(await store.RecordEpochAsync(first.Id, 1, new EpochRecord(1, 2.0, 2.1, 1000, 0.5)));
        Assert.True(await store.RecordEpochAsync(first.Id, 1, new EpochRecord(2, 1.5, 1.6, 1200, 0.25)));
        var job = (await store.GetAsync(first.Id))!;
        Assert.Equal(2, job.Epoch);
        Assert.Equal(0.75, job.TrainingSeconds, 9);
        Assert.Equal(1200, job.SamplesPerSecond);
        Assert.Equal([1, 2], job.History.Select(e => e.Epoch));
        Assert.Equal(new EpochRecord(1, 2.0, 2.1, 1000, 0.5), job.History[0]);

        Assert.True(await store.TruncateHistoryAsync(first.Id, 1, 1));
        Assert.True(await store.RecordEpochAsync(first.Id, 1, new EpochRecord(2, 1.4, 1.5, 1100, 0.3)));
        job = (await store.GetAsync(first.Id))!;
        Assert.Equal([1, 2], job.History.Select(e => e.Epoch));
        Assert.Equal(1.4, job.History[1].TrainNll);
        Assert.Equal(0.8, job.TrainingSeconds, 9);

        Assert.Equal(JobLeaseStatus.Held, await store.RenewLeaseAsync(first.Id, 1, Lease));
        Assert.True(await store.CompleteAsync(first.Id, 1, 3));
        job = (await store.GetAsync(first.Id))!;
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(3, job.ModelVersion);
        Assert.NotNull(job.FinishedAt);
        // An ended job is nobody's: its lease is gone and a second end is refused.
        Assert.Equal(JobLeaseStatus.Lost, await store.RenewLeaseAsync(first.Id, 1, Lease));
        Assert.False(await store.FailAsync(first.Id, 1, "late"));
        Assert.Equal(JobState.Succeeded, (await store.GetAsync(first.Id))!.State);
        Assert.Equal([second.Id, first.Id], (await store.ListAsync()).Select(j => j.Id));
        Assert.Equal([first.Id], (await store.ListAsync(JobState.Succeeded)).Select(j => j.Id));
        Assert.Equal([second.Id], (await store.ListAsync(limit: 1)).Select(j => j.Id));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Cancel_queued_is_immediate_and_running_is_flagged_for_its_worker(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var store = stores.Jobs;
        var running = await store.EnqueueAsync(Request());
        var queued = await store.EnqueueAsync(Request());
        await store.TryClaimAsync("w", Lease);

        Assert.Equal(JobState.Cancelled, (await store.RequestCancelAsync(queued.Id))!.State);
        var flagged = (await store.RequestCancelAsync(running.Id))!;
        Assert.Equal(JobState.Running, flagged.State);
        Assert.True(flagged.CancelRequested);
        Assert.True(await store.IsCancelRequestedAsync(running.Id));
        Assert.Equal(JobLeaseStatus.CancelRequested, await store.RenewLeaseAsync(running.Id, 1, Lease));
        Assert.Null(await store.RequestCancelAsync("nope"));
        Assert.Null(await store.TryClaimAsync("w", Lease));
        Assert.True(await store.MarkCancelledAsync(running.Id, 1));
        Assert.Equal(2, (await store.CountByStateAsync())[JobState.Cancelled]);
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task An_abandoned_job_is_requeued_and_its_old_attempt_can_no_longer_write(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var job = await stores.Jobs.EnqueueAsync(Request("d9"));
        await stores.Jobs.TryClaimAsync("dead-worker", TimeSpan.FromMilliseconds(200));
        Assert.True(await stores.Jobs.RecordEpochAsync(job.Id, 1, new EpochRecord(1, 2, 2, 10, 1)));
        Assert.True(await stores.Jobs.HasActiveJobsForDatasetAsync("d9"));
        await Task.Delay(500);

        await using var afterRestart = stores.Reopen();
        Assert.Equal(1, await afterRestart.Jobs.RequeueAbandonedAsync());
        var reclaimed = (await afterRestart.Jobs.TryClaimAsync("w2", Lease))!;
        Assert.Equal(job.Id, reclaimed.Id);
        Assert.Equal(2, reclaimed.Attempts);
        Assert.Equal([1], reclaimed.History.Select(e => e.Epoch));
        Assert.Equal(1, (await afterRestart.Jobs.CountByStateAsync())[JobState.Running]);

        // The first attempt's worker comes back to life: every write it tries is refused.
        Assert.Equal(JobLeaseStatus.Lost, await stores.Jobs.RenewLeaseAsync(job.Id, 1, Lease));
        Assert.False(await stores.Jobs.RecordEpochAsync(job.Id, 1, new EpochRecord(2, 9, 9, 10, 1)));
        Assert.False(await stores.Jobs.TruncateHistoryAsync(job.Id, 1, 0));
        Assert.False(await stores.Jobs.CompleteAsync(job.Id, 1, 7));
        Assert.False(await stores.Jobs.MarkCancelledAsync(job.Id, 1));
        Assert.False(await stores.Jobs.ReleaseAsync(job.Id, 1));
        var current = (await afterRestart.Jobs.GetAsync(job.Id))!;
        Assert.Equal(JobState.Running, current.State);
        Assert.Equal([1], current.History.Select(e => e.Epoch));

        Assert.True(await afterRestart.Jobs.FailAsync(job.Id, 2, "boom"));
        Assert.Equal("boom", (await afterRestart.Jobs.GetAsync(job.Id))!.Error);
        Assert.False(await afterRestart.Jobs.HasActiveJobsForDatasetAsync("d9"));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task A_released_job_is_claimed_again_at_once(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var job = await stores.Jobs.EnqueueAsync(Request());
        await stores.Jobs.TryClaimAsync("w1", Lease);
        Assert.True(await stores.Jobs.ReleaseAsync(job.Id, 1));
        Assert.Equal(JobState.Queued, (await stores.Jobs.GetAsync(job.Id))!.State);
        Assert.Equal(2, (await stores.Jobs.TryClaimAsync("w2", Lease))!.Attempts);
    }

    [PostgresFact]
    public async Task A_live_lease_keeps_the_job_and_an_expired_one_lets_another_worker_claim_it()
    {
        await using var stores = await TestStores.CreateAsync(StoreBackend.Postgres);
        // The second worker's store is opened before the lease starts, and the lease is 2 s with a heartbeat every
        // 0.5 s: on a loaded 2-core CI machine, opening a store inside a 1 s lease let it expire before the first check.
        await using var other = stores.Reopen();
        var lease = TimeSpan.FromSeconds(2);
        var job = await stores.Jobs.EnqueueAsync(Request());
        await stores.Jobs.TryClaimAsync("w1", lease);
        Assert.Null(await other.Jobs.TryClaimAsync("w2", Lease));
        Assert.Equal(0, await other.Jobs.RequeueAbandonedAsync());
        // Heartbeats keep it past its first lease.
        for (int i = 0; i < 5; i++)
        {
            await Task.Delay(500);
            Assert.Equal(JobLeaseStatus.Held, await stores.Jobs.RenewLeaseAsync(job.Id, 1, lease));
        }
        Assert.Null(await other.Jobs.TryClaimAsync("w2", Lease));
        // No more heartbeats: the lease runs out and the claim takes the job straight from Running.
        await Task.Delay(lease + TimeSpan.FromMilliseconds(500));
        var taken = (await other.Jobs.TryClaimAsync("w2", Lease))!;
        Assert.Equal(2, taken.Attempts);
        Assert.Equal(JobLeaseStatus.Lost, await stores.Jobs.RenewLeaseAsync(job.Id, 1, Lease));
    }

    [PostgresFact]
    public async Task Cancelling_a_job_whose_worker_died_ends_it_at_once()
    {
        await using var stores = await TestStores.CreateAsync(StoreBackend.Postgres);
        var job = await stores.Jobs.EnqueueAsync(Request());
        await stores.Jobs.TryClaimAsync("dead", TimeSpan.FromMilliseconds(100));
        await Task.Delay(300);
        Assert.Equal(JobState.Cancelled, (await stores.Jobs.RequestCancelAsync(job.Id))!.State);
        Assert.Null(await stores.Jobs.TryClaimAsync("w", Lease));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Workers_claiming_at_once_never_take_the_same_job(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        const int jobs = 30, workers = 6;
        for (int i = 0; i < jobs; i++)
            await stores.Jobs.EnqueueAsync(Request());
        var replicas = Enumerable.Range(0, workers).Select(_ => stores.Reopen()).ToArray();
        try
        {
            var claims = await Task.WhenAll(replicas.Select((replica, w) => Task.Run(async () =>
            {
                var mine = new List<string>();
                while (await replica.Jobs.TryClaimAsync($"w{w}", Lease) is { } job)
                    mine.Add(job.Id);
                return mine;
            })));
            var all = claims.SelectMany(c => c).ToList();
            Assert.Equal(jobs, all.Count);
            Assert.Equal(jobs, all.Distinct().Count());
            Assert.All(await stores.Jobs.ListAsync(), j => Assert.Equal((JobState.Running, 1), (j.State, j.Attempts)));
        }
        finally
        {
            foreach (var replica in replicas)
                await replica.DisposeAsync();
        }
    }
}
