using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Jobs;

public class SqliteJobStoreTests
{
    static JobRequest Request(string dataset = "d1") =>
        new(dataset, "m", JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone(), new TrainingParameters { Epochs = 5 }, []);

    [Fact]
    public async Task Queue_claims_oldest_first_once_and_tracks_epochs()
    {
        using var temp = new TempDataFolder();
        var store = new SqliteJobStore(temp.Database);
        var first = await store.EnqueueAsync(Request());
        var second = await store.EnqueueAsync(Request());
        Assert.Equal(JobState.Queued, first.State);
        Assert.Equal(5, first.Epochs);
        Assert.Equal("realnvp", first.Request.Flow.GetProperty("type").GetString());

        var claimed = await store.TryClaimAsync("w1");
        Assert.Equal(first.Id, claimed!.Id);
        Assert.Equal(JobState.Running, claimed.State);
        Assert.Equal(1, claimed.Attempts);
        Assert.Equal(second.Id, (await store.TryClaimAsync("w2"))!.Id);
        Assert.Null(await store.TryClaimAsync("w3"));

        await store.RecordEpochAsync(first.Id, new EpochRecord(1, 2.0, 2.1, 1000, 0.5));
        await store.RecordEpochAsync(first.Id, new EpochRecord(2, 1.5, 1.6, 1200, 0.25));
        var job = (await store.GetAsync(first.Id))!;
        Assert.Equal(2, job.Epoch);
        Assert.Equal(0.75, job.TrainingSeconds, 9);
        Assert.Equal([1, 2], job.History.Select(e => e.Epoch));

        await store.TruncateHistoryAsync(first.Id, 1);
        await store.RecordEpochAsync(first.Id, new EpochRecord(2, 1.4, 1.5, 1100, 0.3));
        job = (await store.GetAsync(first.Id))!;
        Assert.Equal([1, 2], job.History.Select(e => e.Epoch));
        Assert.Equal(1.4, job.History[1].TrainNll);

        await store.CompleteAsync(first.Id, 3);
        job = (await store.GetAsync(first.Id))!;
        Assert.Equal(JobState.Succeeded, job.State);
        Assert.Equal(3, job.ModelVersion);
        Assert.NotNull(job.FinishedAt);
    }

    [Fact]
    public async Task Cancel_queued_is_immediate_and_running_is_flagged()
    {
        using var temp = new TempDataFolder();
        var store = new SqliteJobStore(temp.Database);
        var running = await store.EnqueueAsync(Request());
        var queued = await store.EnqueueAsync(Request());
        await store.TryClaimAsync("w");

        Assert.Equal(JobState.Cancelled, (await store.RequestCancelAsync(queued.Id))!.State);
        var flagged = (await store.RequestCancelAsync(running.Id))!;
        Assert.Equal(JobState.Running, flagged.State);
        Assert.True(flagged.CancelRequested);
        Assert.True(await store.IsCancelRequestedAsync(running.Id));
        Assert.Null(await store.RequestCancelAsync("nope"));
        Assert.Null(await store.TryClaimAsync("w"));
    }

    [Fact]
    public async Task Running_jobs_are_requeued_after_a_restart()
    {
        using var temp = new TempDataFolder();
        var store = new SqliteJobStore(temp.Database);
        var job = await store.EnqueueAsync(Request("d9"));
        await store.TryClaimAsync("dead-worker");
        Assert.True(await store.HasActiveJobsForDatasetAsync("d9"));

        var afterRestart = new SqliteJobStore(new Storage.SqliteDatabase(temp.Folder.DatabasePath));
        Assert.Equal(1, await afterRestart.RequeueAbandonedAsync());
        var reclaimed = (await afterRestart.TryClaimAsync("w2"))!;
        Assert.Equal(job.Id, reclaimed.Id);
        Assert.Equal(2, reclaimed.Attempts);
        Assert.Equal(1, (await afterRestart.CountByStateAsync())[JobState.Running]);
        await afterRestart.FailAsync(job.Id, "boom");
        Assert.Equal("boom", (await afterRestart.GetAsync(job.Id))!.Error);
        Assert.False(await afterRestart.HasActiveJobsForDatasetAsync("d9"));
    }
}
