using System.IO.Compression;
using System.Text.RegularExpressions;
using FlowService.Api.Contracts;
using FlowService.Api.Hosting;
using FlowService.Api.Scoring;
using FlowService.Api.Security;
using FlowService.Model.Checkpoints;
using FlowService.Training.Registry;
using FlowService.Training.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Endpoints;

/// <summary>The model registry over HTTP: models, immutable versions, aliases and checkpoint downloads.</summary>
public static partial class ModelsApi
{
    public static IEndpointRouteBuilder MapModelsApi(this IEndpointRouteBuilder app)
    {
        // Readers see the registry and download checkpoints; only admins move aliases and delete versions.
        var read = app.MapGroup("/models").WithTags("Models").RequireAuthorization(ApiPolicies.Reader);
        var admin = app.MapGroup("/models").WithTags("Models").RequireAuthorization(ApiPolicies.Admin);
        read.MapGet("/", List).WithSummary("Every model with its versions and aliases.");
        read.MapGet("/{name}", GetModel).WithSummary("A model's versions and aliases.");
        read.MapGet("/{name}/versions/{version:int}", GetVersion).WithSummary("One immutable version: spec, data lineage, training parameters, train/validation/test NLL, calibration.");
        read.MapGet("/{name}/versions/{version:int}/checkpoint", DownloadCheckpoint)
            .WithSummary("The version's checkpoint folder (weights as safetensors + model.json) as a zip archive.")
            .Produces(StatusCodes.Status200OK, contentType: "application/zip");
        admin.MapPut("/{name}/aliases/{alias}", SetAlias).WithSummary("Point an alias (e.g. production) at a version; the version is loaded and run once first, so it answers its first request warm.")
            .Accepts<SetAliasRequest>("application/json")
            .WithRequestExample("application/json", ApiExamples.SetAlias);
        admin.MapDelete("/{name}/versions/{version:int}", DeleteVersion).WithSummary("Delete a version and its checkpoint; refused (409) while an alias points at it.");
        return app;
    }

    static async Task<Ok<ModelSummary[]>> List(IModelRegistry registry, CancellationToken cancellationToken) =>
        TypedResults.Ok((await registry.ListAsync(cancellationToken)).ToArray());

    static async Task<Results<Ok<ModelSummary>, ProblemHttpResult>> GetModel(string name, IModelRegistry registry, CancellationToken cancellationToken) =>
        await registry.GetModelAsync(name, cancellationToken) is { } model
            ? TypedResults.Ok(model)
            : Problems.NotFound($"No model is named '{name}'.");

    static async Task<Results<Ok<ModelVersionResponse>, ProblemHttpResult>> GetVersion(string name, int version, IModelRegistry registry, CancellationToken cancellationToken)
    {
        var model = await registry.GetModelAsync(name, cancellationToken);
        if (model is null)
            return Problems.NotFound($"No model is named '{name}'.");
        var found = await registry.GetVersionAsync(name, version, cancellationToken);
        if (found is null)
            return Problems.NotFound($"Model '{name}' has no version {version} (versions: {string.Join(", ", model.Versions)}).");
        return TypedResults.Ok(ModelVersionResponse.From(found, model.Aliases));
    }

    static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> DownloadCheckpoint(
        string name, int version, IModelRegistry registry, DataFolder folder, ILogger<ScoringService> logger, CancellationToken cancellationToken)
    {
        var found = await registry.GetVersionAsync(name, version, cancellationToken);
        if (found is null)
            return Problems.NotFound($"Model '{name}' has no version {version}.");
        string path = folder.Resolve(found.CheckpointFolder);
        if (!Directory.Exists(path))
            return Problems.Create(StatusCodes.Status500InternalServerError, "Checkpoint missing.", $"The checkpoint folder of {name} v{version} is missing from the data folder.");
        // Only what the registry recorded is handed out: the manifest must hash to checkpointSha256 and every file to its line.
        byte[] manifest;
        IReadOnlyDictionary<string, byte[]> files;
        try
        {
            manifest = await File.ReadAllBytesAsync(Path.Combine(path, ChecksummedDirectory.ManifestName), cancellationToken);
            if (!string.Equals(ChecksummedDirectory.Sha256(manifest), found.CheckpointSha256, StringComparison.OrdinalIgnoreCase))
                throw new CheckpointCorruptException($"{ChecksummedDirectory.ManifestName} does not hash to the registry's checkpointSha256");
            files = ChecksummedDirectory.Read(path);
        }
        catch (Exception e) when (e is CheckpointCorruptException or IOException)
        {
            logger.LogError(e, "Refused to hand out the checkpoint of {Model} v{ModelVersion}: verification failed", name, version);
            return Problems.Conflict($"The checkpoint of '{name}' v{version} failed verification (it was replaced or edited on disk) and is not handed out; details in the server log.");
        }
        return TypedResults.Stream(async stream =>
        {
            // ZipArchive writes synchronously; buffer it so Kestrel's no-synchronous-IO rule holds.
            using var buffer = new MemoryStream();
            using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
                foreach (var (fileName, content) in files.Append(new(ChecksummedDirectory.ManifestName, manifest)).OrderBy(f => f.Key, StringComparer.Ordinal))
                {
                    using var entry = zip.CreateEntry(fileName, CompressionLevel.Fastest).Open();
                    entry.Write(content);
                }
            buffer.Position = 0;
            await buffer.CopyToAsync(stream, cancellationToken);
        }, "application/zip", $"{name}-v{version}.zip");
    }

    static async Task<Results<Ok<ModelSummary>, ProblemHttpResult>> SetAlias(
        string name, string alias, SetAliasRequest? body, IModelRegistry registry, ScoringService scoring, ILogger<ScoringService> logger, CancellationToken cancellationToken)
    {
        if (!AliasPattern().IsMatch(alias))
            return Problems.BadRequest("An alias is 1-64 letters, digits, '.', '_' or '-', and not a number.", field: "alias");
        if (body?.Version is not { } version)
            return Problems.BadRequest("The body needs \"version\": the version number the alias points at.", field: "version");
        if (await registry.GetModelAsync(name, cancellationToken) is null)
            return Problems.NotFound($"No model is named '{name}'.");
        // Warm-up before the alias moves: traffic that follows the alias never meets a cold or unloadable version.
        try
        {
            await scoring.PrepareAsync(name, version, cancellationToken);
        }
        catch (VersionMissingException)
        {
            return Problems.NotFound($"Model '{name}' has no version {version}.", field: "version");
        }
        catch (ModelUnavailableException e)
        {
            return Problems.Conflict($"The alias was not moved: {e.Message}");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The exception's message may name server paths: it goes to the log, the client gets the trace id.
            logger.LogError(e, "Version {ModelVersion} of {Model} failed to load and run at warm-up", version, name);
            return Problems.Conflict($"Version {version} of '{name}' failed to load and run at warm-up, so the alias was not moved (trace id {System.Diagnostics.Activity.Current?.TraceId.ToString() ?? "unknown"}; details in the server log).");
        }
        if (!await registry.SetAliasAsync(name, alias, version, cancellationToken))
            return Problems.NotFound($"Model '{name}' has no version {version}.", field: "version");
        return TypedResults.Ok((await registry.GetModelAsync(name, cancellationToken))!);
    }

    static async Task<Results<NoContent, ProblemHttpResult>> DeleteVersion(string name, int version, IModelRegistry registry, CancellationToken cancellationToken)
    {
        var result = await registry.DeleteVersionAsync(name, version, cancellationToken);
        if (result.NotFound)
            return Problems.NotFound($"Model '{name}' has no version {version}.");
        if (!result.Deleted)
            return Problems.Conflict($"Version {version} of '{name}' is aliased as {string.Join(", ", result.BlockingAliases)}; move the alias first.");
        return TypedResults.NoContent();
    }

    // \z, not $: $ also matches before a final "\n", which would let "prod\n" through.
    [GeneratedRegex(@"^(?!\d+\z)[A-Za-z0-9._-]{1,64}\z")]
    private static partial Regex AliasPattern();
}
