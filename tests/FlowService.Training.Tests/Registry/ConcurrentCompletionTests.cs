using System.Collections.Concurrent;
using System.Text.Json;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;
using FlowService.Training.Storage;

namespace FlowService.Training.Tests.Registry;

/// <summary>
/// Many workers (each its own store instances: its own connections, as separate replicas have) completing
/// jobs for two models at once while others move aliases and read: version numbers stay dense and unique per
/// model, each job gets exactly one version, and no reader ever sees an alias pointing at a missing version.
/// </summary>
public class ConcurrentCompletionTests
{
    static readonly TimeSpan Lease = TimeSpan.FromMinutes(5);

    static NewModelVersion Version(JobRecord job) => new(
        job.Request.Model, job.Id, "d1", "sha", ["a", "b"], [], job.Request.Flow, job.Request.Training,
        new ModelMetrics(1, 1.1, 1.2, 3, 2, 80, 10, 10), AnomalyCalibration.FromValidationLogProb([-3f, -2f, -1f]),
        DataFolder.CheckpointFolder(job.Request.Model, job.Id, job.Attempts), "csha");

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Parallel_completions_and_alias_moves_keep_versions_dense_and_aliases_valid(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        const int jobsPerModel = 20, workers = 6;
        string[] models = ["m", "n"];
        var flow = JsonDocument.Parse("""{"type":"realnvp","layers":2,"hidden":[8]}""").RootElement.Clone();
        for (int i = 0; i < jobsPerModel; i++)
            foreach (var model in models)
                await stores.Jobs.EnqueueAsync(new JobRequest("d1", model, flow, new TrainingParameters { Epochs = 1 }, []));

        var replicas = Enumerable.Range(0, workers + 3).Select(_ => stores.Reopen()).ToArray();
        var violations = new ConcurrentQueue<string>();
        using var done = new CancellationTokenSource();
        try
        {
            var completing = replicas.Take(workers).Select((replica, w) => Task.Run(async () =>
            {
                while (await replica.Jobs.TryClaimAsync($"w{w}", Lease) is { } job)
                {
                    var version = await replica.Registry.RegisterAsync(Version(job));
                    // A worker that retries its registration (it died before completing) gets the same version back.
                    if (job.Id.GetHashCode() % 3 == 0 && (await replica.Registry.RegisterAsync(Version(job))).Version != version.Version)
                        violations.Enqueue($"re-registering {job.Id} gave another version");
                    if (!await replica.Jobs.CompleteAsync(job.Id, job.Attempts, version.Version))
                        violations.Enqueue($"completing {job.Id} was refused");
                }
            })).ToArray();
            var watching = replicas.Skip(workers).Select((replica, r) => Task.Run(async () =>
            {
                var random = new Random(r);
                while (!done.IsCancellationRequested)
                    foreach (var model in models)
                    {
                        var summary = await replica.Registry.GetModelAsync(model);
                        if (summary is null || summary.Versions.Count == 0)
                            continue;
                        foreach (var (alias, target) in summary.Aliases)
                            if (!summary.Versions.Contains(target))
                                violations.Enqueue($"{model}: alias {alias} -> v{target}, versions {string.Join(",", summary.Versions)}");
                        if (summary.Versions.Distinct().Count() != summary.Versions.Count)
                            violations.Enqueue($"{model}: duplicate versions {string.Join(",", summary.Versions)}");
                        int pick = summary.Versions[random.Next(summary.Versions.Count)];
                        if (!await replica.Registry.SetAliasAsync(model, r % 2 == 0 ? "production" : "staging", pick))
                            violations.Enqueue($"{model}: alias to existing v{pick} refused");
                        if (await replica.Registry.ResolveDefaultAsync(model) is not { } resolved || await replica.Registry.GetVersionAsync(model, resolved) is null)
                            violations.Enqueue($"{model}: default version does not exist");
                    }
            })).ToArray();
            await Task.WhenAll(completing);
            await done.CancelAsync();
            await Task.WhenAll(watching);
        }
        finally
        {
            foreach (var replica in replicas)
                await replica.DisposeAsync();
        }

        Assert.Empty(violations);
        var jobs = await stores.Jobs.ListAsync(limit: 1000);
        Assert.Equal(jobsPerModel * models.Length, jobs.Count);
        foreach (var model in models)
        {
            var summary = (await stores.Registry.GetModelAsync(model))!;
            Assert.Equal(Enumerable.Range(1, jobsPerModel), summary.Versions);
            var mine = jobs.Where(j => j.Request.Model == model).ToList();
            Assert.All(mine, j => Assert.Equal(JobState.Succeeded, j.State));
            Assert.Equal(Enumerable.Range(1, jobsPerModel), mine.Select(j => j.ModelVersion!.Value).Order());
            foreach (var job in mine)
                Assert.Equal(job.ModelVersion, (await stores.Registry.FindByJobAsync(job.Id))!.Version);
            Assert.All(summary.Aliases.Values, v => Assert.Contains(v, summary.Versions));
        }
    }
}
