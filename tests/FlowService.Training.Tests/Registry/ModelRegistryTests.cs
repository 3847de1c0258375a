using System.Text.Json;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;
using FlowService.Training.Storage;

namespace FlowService.Training.Tests.Registry;

public class ModelRegistryTests
{
    static NewModelVersion Version(string model, string job) => new(
        model, job, "d1", "sha", ["a", "b"], [], JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone(),
        new TrainingParameters(), new ModelMetrics(1, 1.1, 1.2, 3, 2, 80, 10, 10),
        AnomalyCalibration.FromValidationLogProb([-3f, -2f, -1f]), DataFolder.CheckpointFolder(model, job), "csha");

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Versions_are_dense_per_model_idempotent_per_job_and_never_reused(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var registry = stores.Registry;
        Assert.Equal(1, (await registry.RegisterAsync(Version("m", "j1"))).Version);
        Assert.Equal(1, (await registry.RegisterAsync(Version("other", "j2"))).Version);
        Assert.Equal(2, (await registry.RegisterAsync(Version("m", "j3"))).Version);
        Assert.Equal(2, (await registry.RegisterAsync(Version("m", "j3"))).Version);

        Assert.True((await registry.DeleteVersionAsync("m", 2)).Deleted);
        Assert.Equal(3, (await registry.RegisterAsync(Version("m", "j4"))).Version);
        Assert.Equal([1, 3], (await registry.GetModelAsync("m"))!.Versions);
        Assert.Equal(["m", "other"], (await registry.ListAsync()).Select(m => m.Name));
        var v3 = (await registry.GetVersionAsync("m", 3))!;
        Assert.Equal("j4", v3.JobId);
        Assert.Equal(-2, v3.Calibration.Quantiles["0.5"], 6);
        Assert.Equal(3, (await registry.FindByJobAsync("j4"))!.Version);
        Assert.Equal("realnvp", v3.Flow.GetProperty("type").GetString());
        Assert.Equal(new ModelMetrics(1, 1.1, 1.2, 3, 2, 80, 10, 10), v3.Metrics);
        Assert.Equal(["a", "b"], v3.Columns);
        Assert.Null(await registry.GetVersionAsync("m", 2));
        Assert.Null(await registry.FindByJobAsync("j3"));
        Assert.Null(await registry.GetModelAsync("unknown"));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Aliases_pick_the_default_and_block_deletion(StoreBackend backend)
    {
        await using var stores = await TestStores.CreateAsync(backend);
        var registry = stores.Registry;
        await registry.RegisterAsync(Version("m", "j1"));
        await registry.RegisterAsync(Version("m", "j2"));
        Assert.Equal(2, await registry.ResolveDefaultAsync("m"));
        Assert.Null(await registry.ResolveDefaultAsync("unknown"));

        Assert.False(await registry.SetAliasAsync("m", "production", 7));
        Assert.True(await registry.SetAliasAsync("m", "production", 1));
        Assert.Equal(1, await registry.ResolveDefaultAsync("m"));

        var refused = await registry.DeleteVersionAsync("m", 1);
        Assert.False(refused.Deleted);
        Assert.Equal(["production"], refused.BlockingAliases);
        Assert.True(await registry.SetAliasAsync("m", "production", 2));
        Assert.True((await registry.DeleteVersionAsync("m", 1)).Deleted);
        Assert.True((await registry.DeleteVersionAsync("m", 1)).NotFound);
        Assert.True((await registry.DeleteVersionAsync("unknown", 1)).NotFound);
        Assert.False(await registry.SetAliasAsync("unknown", "production", 1));
        Assert.Equal(new Dictionary<string, int> { ["production"] = 2 }, (await registry.GetModelAsync("m"))!.Aliases);
    }

    [Fact]
    public void Calibration_percentiles_and_thresholds_interpolate_like_numpy()
    {
        var values = Enumerable.Range(0, 101).Select(i => (float)i).ToArray();
        var calibration = AnomalyCalibration.FromValidationLogProb(values);
        Assert.Equal(1.0, calibration.Quantiles["0.01"], 6);
        Assert.Equal(50.0, calibration.Threshold(0.5), 6);
        Assert.Equal(0.25, calibration.Percentile(25), 6);
        Assert.Equal(0.0, calibration.Percentile(-5));
        Assert.Equal(1.0, calibration.Percentile(500));
    }
}
