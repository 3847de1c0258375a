using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Jobs;

/// <summary>
/// The per-owner quota of running jobs, enforced where a worker claims: a job whose owner already has the limit running
/// is passed over (it stays queued, in order) and other owners' jobs are claimed meanwhile; the race of many workers
/// claiming at once never goes over the limit.
/// </summary>
public class RunningJobQuotaTests
{
    static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    static JobRequest Request(string? owner) =>
        new("d1", "m", JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone(), new TrainingParameters { Epochs = 5 }, [], Owner: owner);

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task A_busy_owners_jobs_wait_while_other_owners_jobs_are_claimed(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var store = stores.Jobs;
        var a1 = await store.EnqueueAsync(Request("key:a"));
        var a2 = await store.EnqueueAsync(Request("key:a"));
        var a3 = await store.EnqueueAsync(Request("key:a"));
        var b1 = await store.EnqueueAsync(Request("key:b"));
        var open = await store.EnqueueAsync(Request(null));

        Assert.Equal(a1.Id, (await store.TryClaimAsync("w1", Lease, runningPerOwner: 2))!.Id);
        Assert.Equal(a2.Id, (await store.TryClaimAsync("w2", Lease, runningPerOwner: 2))!.Id);
        // a3 is older than b1 but its owner is at the limit.
        Assert.Equal(b1.Id, (await store.TryClaimAsync("w3", Lease, runningPerOwner: 2))!.Id);
        // Jobs queued with authentication off have no owner to count and are never held back.
        Assert.Equal(open.Id, (await store.TryClaimAsync("w4", Lease, runningPerOwner: 2))!.Id);
        Assert.Null(await store.TryClaimAsync("w5", Lease, runningPerOwner: 2));
        Assert.Equal(JobState.Queued, (await store.GetAsync(a3.Id))!.State);
        // Every way a running job ends frees its place: success, failure, release back to the queue, cancellation.
        Assert.True(await store.CompleteAsync(a1.Id, 1, 1));
        Assert.Equal(a3.Id, (await store.TryClaimAsync("w6", Lease, runningPerOwner: 2))!.Id);
        Assert.Null(await store.TryClaimAsync("w7", Lease, runningPerOwner: 2));
        var a4 = await store.EnqueueAsync(Request("key:a"));
        Assert.True(await store.FailAsync(a2.Id, 1, "boom"));
        Assert.Equal(a4.Id, (await store.TryClaimAsync("w8", Lease, runningPerOwner: 2))!.Id);
        Assert.True(await store.ReleaseAsync(a4.Id, 1));
        Assert.Equal(a4.Id, (await store.TryClaimAsync("w9", Lease, runningPerOwner: 2))!.Id);
        Assert.Null(await store.TryClaimAsync("w10", Lease, runningPerOwner: 2));
        var a5 = await store.EnqueueAsync(Request("key:a"));
        Assert.Null(await store.TryClaimAsync("w11", Lease, runningPerOwner: 2));
        Assert.Equal(JobState.Running, (await store.RequestCancelAsync(a3.Id))!.State);
        Assert.True(await store.MarkCancelledAsync(a3.Id, 1));
        Assert.Equal(a5.Id, (await store.TryClaimAsync("w12", Lease, runningPerOwner: 2))!.Id);
        Assert.Equal(2, (await store.ListAsync(JobState.Running)).Count(j => j.Request.Owner == "key:a"));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Workers_claiming_at_once_never_run_more_of_one_owners_jobs_than_the_limit(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        const int workers = 6, limit = 2;
        for (int i = 0; i < 12; i++)
            await stores.Jobs.EnqueueAsync(Request(i % 3 == 2 ? "key:b" : "key:a"));
        var replicas = Enumerable.Range(0, workers).Select(_ => stores.Reopen()).ToArray();
        try
        {
            using var start = new Barrier(workers);
            var claims = await Task.WhenAll(replicas.Select((replica, w) => Task.Run(async () =>
            {
                start.SignalAndWait();
                var mine = new List<JobRecord>();
                while (await replica.Jobs.TryClaimAsync($"w{w}", Lease, limit) is { } job)
                    mine.Add(job);
                return mine;
            })));
            var all = claims.SelectMany(c => c).ToList();
            Assert.Equal(2 * limit, all.Count);
            Assert.Equal(limit, all.Count(j => j.Request.Owner == "key:a"));
            Assert.Equal(limit, all.Count(j => j.Request.Owner == "key:b"));
            Assert.Equal(2 * limit, (await stores.Jobs.CountByStateAsync())[JobState.Running]);
        }
        finally
        {
            foreach (var replica in replicas)
                await replica.DisposeAsync();
        }
    }

    [PostgresFact]
    public async Task A_job_whose_worker_died_does_not_count_against_its_owner()
    {
        await using var stores = await TestStores.CreateAsync(StoreBackend.Postgres);
        var dead = await stores.Jobs.EnqueueAsync(Request("key:a"));
        var next = await stores.Jobs.EnqueueAsync(Request("key:a"));
        // The lease is long enough that the next claim, on a loaded machine, still finds it held.
        var deadLease = TimeSpan.FromSeconds(2);
        await stores.Jobs.TryClaimAsync("dead", deadLease, runningPerOwner: 1);
        Assert.Null(await stores.Jobs.TryClaimAsync("w", Lease, runningPerOwner: 1));
        await Task.Delay(deadLease + TimeSpan.FromMilliseconds(500));
        // Its lease ran out: it is claimable again (oldest first) and no longer holds the owner's place.
        var reclaimed = (await stores.Jobs.TryClaimAsync("w", Lease, runningPerOwner: 1))!;
        Assert.Equal((dead.Id, 2), (reclaimed.Id, reclaimed.Attempts));
        Assert.Null(await stores.Jobs.TryClaimAsync("w2", Lease, runningPerOwner: 1));
        Assert.Equal(JobState.Queued, (await stores.Jobs.GetAsync(next.Id))!.State);
    }
}
