using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FlowService.Model.Checkpoints;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;
using FlowService.Training.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace FlowService.Api.Tests;

/// <summary>Registry endpoints over versions registered directly through the store (training is covered end to end elsewhere).</summary>
public class ModelsApiTests
{
    static async Task RegisterAsync(FlowServiceFactory factory, string model, string job)
    {
        var registry = factory.Services.GetRequiredService<IModelRegistry>();
        var folder = factory.Services.GetRequiredService<DataFolder>();
        string relative = DataFolder.CheckpointFolder(model, job);
        // A stand-in checkpoint (no weights, so it does not load) with a manifest the registry's checkpointSha256 matches,
        // as downloads verify it.
        ChecksummedDirectory.Write(folder.Resolve(relative), new Dictionary<string, byte[]> { ["model.json"] = "{}"u8.ToArray() });
        string checkpointSha256 = ChecksummedDirectory.Sha256(await File.ReadAllBytesAsync(Path.Combine(folder.Resolve(relative), ChecksummedDirectory.ManifestName)));
        await registry.RegisterAsync(new NewModelVersion(
            model, job, "d", "sha", ["x", "y"], [], JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone(), new TrainingParameters(),
            new ModelMetrics(1.0, 1.1, 1.2, 5, 4, 80, 10, 10), AnomalyCalibration.FromValidationLogProb([-3f, -2f, -1f]), relative, checkpointSha256));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Versions_aliases_download_and_guarded_delete(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false);
        var client = factory.CreateClient();
        await RegisterAsync(factory, "m", "j1");
        await RegisterAsync(factory, "m", "j2");

        var models = await (await client.GetAsync("/models")).AssertJson(HttpStatusCode.OK);
        Assert.Equal("m", models[0].Text("name"));
        var model = await (await client.GetAsync("/models/m")).AssertJson(HttpStatusCode.OK);
        Assert.Equal([1, 2], model.GetProperty("versions").EnumerateArray().Select(v => v.GetInt32()));
        Assert.Equal(2, model.GetProperty("latest").GetInt32());

        var v1 = await (await client.GetAsync("/models/m/versions/1")).AssertJson(HttpStatusCode.OK);
        Assert.Equal("j1", v1.Text("jobId"));
        Assert.Equal(1.2, v1.GetProperty("metrics").GetProperty("testNll").GetDouble());
        Assert.Equal(-2.0, v1.GetProperty("calibrationQuantiles").GetProperty("0.5").GetDouble(), 6);
        Assert.Equal("/models/m/versions/1/checkpoint", v1.Text("checkpointUrl"));

        var zip = await client.GetAsync("/models/m/versions/1/checkpoint");
        Assert.Equal(HttpStatusCode.OK, zip.StatusCode);
        Assert.Equal("application/zip", zip.Content.Headers.ContentType?.MediaType);
        using (var archive = new System.IO.Compression.ZipArchive(await zip.Content.ReadAsStreamAsync()))
            Assert.Equal([ChecksummedDirectory.ManifestName, "model.json"], archive.Entries.Select(e => e.FullName));

        // The stand-in checkpoint does not load, so the warm-up that precedes an alias move refuses it and the alias stays unset.
        var unloadable = await (await client.PutAsJsonAsync("/models/m/aliases/production", new { version = 1 })).AssertProblem(HttpStatusCode.Conflict);
        Assert.Contains("was not moved", unloadable.Text("detail"));
        Assert.Empty((await (await client.GetAsync("/models/m")).AssertJson(HttpStatusCode.OK)).GetProperty("aliases").EnumerateObject());
        // Aliased through the registry (the HTTP move of a loadable version is covered end to end), the delete guard applies.
        Assert.True(await factory.Services.GetRequiredService<IModelRegistry>().SetAliasAsync("m", "production", 1));
        var aliased = await (await client.GetAsync("/models/m")).AssertJson(HttpStatusCode.OK);
        Assert.Equal(1, aliased.GetProperty("aliases").GetProperty("production").GetInt32());
        Assert.Equal(["production"], (await (await client.GetAsync("/models/m/versions/1")).AssertJson(HttpStatusCode.OK)).GetProperty("aliases").EnumerateArray().Select(a => a.GetString()));
        var refused = await (await client.DeleteAsync("/models/m/versions/1")).AssertProblem(HttpStatusCode.Conflict);
        Assert.Contains("production", refused.Text("detail"));
        Assert.Equal(HttpStatusCode.NoContent, (await client.DeleteAsync("/models/m/versions/2")).StatusCode);
        Assert.False(Directory.Exists(Path.Combine(factory.DataPath, "models", "m", "j2")));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Unknown_models_versions_and_bad_alias_requests_are_problems(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend, worker: false);
        var client = factory.CreateClient();
        await RegisterAsync(factory, "m", "j1");
        await (await client.GetAsync("/models/none")).AssertProblem(HttpStatusCode.NotFound);
        await (await client.GetAsync("/models/m/versions/9")).AssertProblem(HttpStatusCode.NotFound);
        await (await client.GetAsync("/models/m/versions/9/checkpoint")).AssertProblem(HttpStatusCode.NotFound);
        await (await client.DeleteAsync("/models/m/versions/9")).AssertProblem(HttpStatusCode.NotFound);
        Assert.Equal("version", (await (await client.PutAsJsonAsync("/models/m/aliases/production", new { version = 9 })).AssertProblem(HttpStatusCode.NotFound)).Text("field"));
        Assert.Equal("version", (await (await client.PutAsJsonAsync("/models/m/aliases/production", new { })).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("alias", (await (await client.PutAsJsonAsync("/models/m/aliases/123", new { version = 1 })).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
        await (await client.PutAsJsonAsync("/models/none/aliases/production", new { version = 1 })).AssertProblem(HttpStatusCode.NotFound);
    }
}
