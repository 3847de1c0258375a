using System.Diagnostics.Metrics;
using System.Text.Json;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;
using FlowService.Training.Observability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace FlowService.Training.Tests.Jobs;

/// <summary>
/// The runner with a real engine and store, when the job is taken from it while it trains (its lease
/// expired and another worker claimed it): it stops within a heartbeat and writes nothing about the job.
/// </summary>
public class LeaseFencingTests
{
    static FlowJobRunner Runner(TestStores stores)
    {
        var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var telemetry = new TrainingTelemetry(new TrainingMetrics(Prometheus.Metrics.NewCustomRegistry()), NullLogger<TrainingTelemetry>.Instance);
        var options = Options.Create(new WorkerOptions { LeaseSeconds = 30, HeartbeatMilliseconds = 100 });
        return new FlowJobRunner(stores.Jobs, stores.Datasets, stores.Registry, new FlowEngineCatalog([new NormalizingFlowEngine()]), stores.Folder,
            telemetry, options, NullLogger<FlowJobRunner>.Instance);
    }

    static NumericTable Gaussian(int rows)
    {
        var random = new Random(4);
        var values = new double[rows * 2];
        for (int i = 0; i < values.Length; i++)
            values[i] = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
        return new NumericTable(["x", "y"], rows, values);
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task A_worker_whose_job_was_claimed_by_another_stops_and_writes_nothing(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var dataset = await stores.Datasets.AddAsync("g", DatasetFormat.Csv, Gaussian(2000), "sha", 1);
        var request = new JobRequest(dataset.Id, "fenced", JsonDocument.Parse("""{"type":"realnvp","layers":2,"hidden":[8]}""").RootElement.Clone(),
            new TrainingParameters { Epochs = 100000, BatchSize = 8, Patience = 100000 }, []);
        var job = await stores.Jobs.EnqueueAsync(request);
        var claimed = (await stores.Jobs.TryClaimAsync("A", TimeSpan.FromSeconds(30)))!;
        var run = Runner(stores).RunAsync(claimed, CancellationToken.None);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while ((await stores.Jobs.GetAsync(job.Id))!.Epoch < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "training did not start");
            await Task.Delay(20);
        }

        // Another worker takes the job (as after an expired lease): attempt 2 is now the only one that may write.
        await using var other = stores.Reopen();
        Assert.True(await other.Jobs.ReleaseAsync(job.Id, 1));
        // A claim skips a row another transaction has locked (SKIP LOCKED), and worker A may hold this one for a moment:
        // its last epoch write or heartbeat, which finds the lease gone, locks the row until it ends. B polls, as a worker does.
        JobRecord? taken;
        deadline = DateTime.UtcNow.AddSeconds(30);
        while ((taken = await other.Jobs.TryClaimAsync("B", TimeSpan.FromSeconds(30))) is null)
        {
            Assert.True(DateTime.UtcNow < deadline, "the released job could not be claimed");
            await Task.Delay(20);
        }
        Assert.Equal(2, taken.Attempts);
        int epochWhenTaken = (await other.Jobs.GetAsync(job.Id))!.Epoch;

        await run.WaitAsync(TimeSpan.FromSeconds(30));
        var after = (await other.Jobs.GetAsync(job.Id))!;
        Assert.Equal((JobState.Running, 2, false, null), (after.State, after.Attempts, after.CancelRequested, after.Error));
        Assert.InRange(after.Epoch, epochWhenTaken, epochWhenTaken + 1);
        Assert.Null(await stores.Registry.FindByJobAsync(job.Id));
        Assert.Null(await stores.Registry.GetModelAsync("fenced"));
        Assert.False(Directory.Exists(Path.Combine(stores.Folder.Root, "models", "fenced")));
        // The resumable state stays for the worker that holds the job now.
        Assert.True(File.Exists(Path.Combine(stores.Folder.JobStateFolder(job.Id), TrainingState.FileName)));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task A_cancel_request_reaches_the_worker_holding_the_job(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var dataset = await stores.Datasets.AddAsync("g", DatasetFormat.Csv, Gaussian(2000), "sha", 1);
        var job = await stores.Jobs.EnqueueAsync(new JobRequest(dataset.Id, "c", JsonDocument.Parse("""{"type":"realnvp","layers":2,"hidden":[8]}""").RootElement.Clone(),
            new TrainingParameters { Epochs = 100000, BatchSize = 8, Patience = 100000 }, []));
        var run = Runner(stores).RunAsync((await stores.Jobs.TryClaimAsync("A", TimeSpan.FromSeconds(30)))!, CancellationToken.None);
        while ((await stores.Jobs.GetAsync(job.Id))!.Epoch < 1)
            await Task.Delay(20);
        await using var api = stores.Reopen();
        Assert.Equal(JobState.Running, (await api.Jobs.RequestCancelAsync(job.Id))!.State);
        await run.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(JobState.Cancelled, (await api.Jobs.GetAsync(job.Id))!.State);
        Assert.Null(await api.Registry.FindByJobAsync(job.Id));
        Assert.False(Directory.Exists(stores.Folder.JobStateFolder(job.Id)));
    }
}
