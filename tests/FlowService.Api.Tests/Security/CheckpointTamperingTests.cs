using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using FlowService.Api.Tests.Scoring;
using FlowService.Model.Checkpoints;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// Checkpoints are verified on every load against the registry's checkpointSha256 and the per-file sums: a checkpoint
/// swapped on disk for another valid one (SHA256SUMS and all), or a file edited in place, is refused for scoring, alias
/// moves and downloads with a 409 problem that names no server path.
/// </summary>
public class CheckpointTamperingTests
{
    static string CheckpointOf(FlowServiceFactory factory, string model) =>
        Directory.GetDirectories(Path.Combine(factory.DataPath, "models", model)).Single(d => File.Exists(Path.Combine(d, ChecksummedDirectory.ManifestName)));

    static void AssertNoServerPath(FlowServiceFactory factory, System.Text.Json.JsonElement problem)
    {
        string text = problem.ToString();
        Assert.DoesNotContain(factory.DataPath, text);
        Assert.DoesNotContain(Path.GetTempPath(), text);
        Assert.DoesNotContain("   at ", text);
    }

    [Fact]
    public async Task A_checkpoint_swapped_with_a_recomputed_manifest_or_edited_in_place_is_refused_everywhere()
    {
        await using var factory = new FlowServiceFactory();
        var client = factory.CreateClient();
        await InferencePayloadTests.TrainAsync(client, "m");
        await InferencePayloadTests.TrainAsync(client, "other");
        var score = new { model = "m", rows = new[] { new[] { 3.0, -1.0 } } };

        // Untouched: the download holds the manifest and both files.
        using (var zip = new ZipArchive(await (await client.GetAsync("/models/m/versions/1/checkpoint")).Content.ReadAsStreamAsync()))
            Assert.Equal([ChecksummedDirectory.ManifestName, Checkpoint.InfoFileName, Checkpoint.WeightsFileName], zip.Entries.Select(e => e.Name).Order(StringComparer.Ordinal));

        // A consistent forgery: one weight changed, model.json's weightsSha256 and SHA256SUMS recomputed to match, so
        // every per-file check passes; only the registry's checkpointSha256 tells.
        string target = CheckpointOf(factory, "m");
        Forge(target);

        var scored = await (await client.PostAsJsonAsync("/score", score)).AssertProblem(HttpStatusCode.Conflict);
        Assert.Contains("failed checkpoint verification", scored.Text("detail"));
        Assert.Contains("checkpointSha256", scored.Text("detail"), StringComparison.OrdinalIgnoreCase);
        AssertNoServerPath(factory, scored);
        var aliased = await (await client.PutAsJsonAsync("/models/m/aliases/production", new { version = 1 })).AssertProblem(HttpStatusCode.Conflict);
        AssertNoServerPath(factory, aliased);
        var download = await (await client.GetAsync("/models/m/versions/1/checkpoint")).AssertProblem(HttpStatusCode.Conflict);
        AssertNoServerPath(factory, download);

        // The untouched model still serves.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsJsonAsync("/score", new { model = "other", rows = score.rows })).StatusCode);
    }

    static void Forge(string folder)
    {
        string weightsPath = Path.Combine(folder, Checkpoint.WeightsFileName), infoPath = Path.Combine(folder, Checkpoint.InfoFileName);
        var weights = File.ReadAllBytes(weightsPath);
        weights[^1] ^= 0x01;
        File.WriteAllBytes(weightsPath, weights);
        var info = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(infoPath))!;
        info["weightsSha256"] = ChecksummedDirectory.Sha256(weights);
        byte[] infoBytes = System.Text.Encoding.UTF8.GetBytes(info.ToJsonString());
        File.WriteAllBytes(infoPath, infoBytes);
        File.WriteAllText(Path.Combine(folder, ChecksummedDirectory.ManifestName),
            $"{ChecksummedDirectory.Sha256(infoBytes)}  {Checkpoint.InfoFileName}\n{ChecksummedDirectory.Sha256(weights)}  {Checkpoint.WeightsFileName}\n");
        // What an attacker's sha256sum -c would say: the forgery is internally consistent.
        Assert.Equal(2, ChecksummedDirectory.Read(folder).Count);
    }

    [Fact]
    public async Task A_weights_file_edited_in_place_is_refused_without_a_server_path()
    {
        await using var factory = new FlowServiceFactory();
        var client = factory.CreateClient();
        await InferencePayloadTests.TrainAsync(client, "m");
        string weights = Path.Combine(CheckpointOf(factory, "m"), Checkpoint.WeightsFileName);
        var bytes = await File.ReadAllBytesAsync(weights);
        bytes[^1] ^= 0x40;
        await File.WriteAllBytesAsync(weights, bytes);

        var problem = await (await client.PostAsJsonAsync("/score", new { model = "m", rows = new[] { new[] { 3.0, -1.0 } } })).AssertProblem(HttpStatusCode.Conflict);
        Assert.Contains("sha256", problem.Text("detail"));
        AssertNoServerPath(factory, problem);
        AssertNoServerPath(factory, await (await client.PutAsJsonAsync("/models/m/aliases/production", new { version = 1 })).AssertProblem(HttpStatusCode.Conflict));
    }
}
