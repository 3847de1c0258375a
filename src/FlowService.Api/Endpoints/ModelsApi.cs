using System.IO.Compression;
using System.Text.RegularExpressions;
using FlowService.Api.Contracts;
using FlowService.Api.Hosting;
using FlowService.Api.Scoring;
using FlowService.Api.Security;
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
        string name, int version, IModelRegistry registry, DataFolder folder, CancellationToken cancellationToken)
    {
        var found = await registry.GetVersionAsync(name, version, cancellationToken);
        if (found is null)
            return Problems.NotFound($"Model '{name}' has no version {version}.");
        string path = folder.Resolve(found.CheckpointFolder);
        if (!Directory.Exists(path))
            return Problems.Create(StatusCodes.Status500InternalServerError, "Checkpoint missing.", $"The checkpoint folder of {name} v{version} is missing from the data folder.");
        return TypedResults.Stream(async stream =>
        {
            // ZipArchive writes synchronously; buffer it so Kestrel's no-synchronous-IO rule holds.
            using var buffer = new MemoryStream();
            using (var zip = new ZipArchive(buffer, ZipArchiveMode.Create, leaveOpen: true))
                foreach (var file in Directory.EnumerateFiles(path).Order(StringComparer.Ordinal))
                    zip.CreateEntryFromFile(file, Path.GetFileName(file), CompressionLevel.Fastest);
            buffer.Position = 0;
            await buffer.CopyToAsync(stream, cancellationToken);
        }, "application/zip", $"{name}-v{version}.zip");
    }

    static async Task<Results<Ok<ModelSummary>, ProblemHttpResult>> SetAlias(
        string name, string alias, SetAliasRequest? body, IModelRegistry registry, ScoringService scoring, CancellationToken cancellationToken)
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
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Problems.Conflict($"Version {version} of '{name}' failed to load and run at warm-up, so the alias was not moved: {e.Message}");
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
