using FlowService.Api.Payloads;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using FlowService.Api.Hosting;
using FlowService.Api.Security;
using FlowService.Training.Datasets;
using FlowService.Training.Jobs;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Endpoints;

/// <summary>POST/GET/DELETE /datasets: uploads in CSV, JSON or .npy, validated before anything is stored.</summary>
public static partial class DatasetsApi
{
    public static IEndpointRouteBuilder MapDatasetsApi(this IEndpointRouteBuilder app)
    {
        // One group per role: readers list and fetch, trainers upload, admins delete.
        var read = app.MapGroup("/datasets").WithTags("Datasets").RequireAuthorization(ApiPolicies.Reader);
        var train = app.MapGroup("/datasets").WithTags("Datasets").RequireAuthorization(ApiPolicies.Trainer);
        var admin = app.MapGroup("/datasets").WithTags("Datasets").RequireAuthorization(ApiPolicies.Admin);
        train.MapPost("/", Upload)
            .Accepts<string>("text/csv", "application/json", "application/x-npy", "application/x-idx", "application/octet-stream")
            .WithSummary("Upload a dataset (CSV with a header row, JSON {columns, rows}, a 2-D float32/float64/uint8 .npy, or images: a .npy (N, H, W) or (N, C, H, W), or an IDX file as MNIST ships it, gzipped or not).")
            .WithDescription("Query: name (required), columns (comma-separated names, 2-D .npy only). Rejections name the first offending line/row and column; columns with zero variance are rejected (except in images). " +
                "An image dataset records its shape and value range under 'image'; application/octet-stream bodies are told apart by their magic bytes (.npy, IDX, gzip).")
            .WithRequestExample("text/csv", ApiExamples.DatasetCsv)
            .WithResponseExample(StatusCodes.Status201Created, ApiExamples.DatasetInfo);
        read.MapGet("/", List).WithSummary("List datasets.");
        read.MapGet("/{id}", Get).WithSummary("A dataset's metadata and per-column statistics.")
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.DatasetInfo);
        admin.MapDelete("/{id}", Delete).WithSummary("Delete a dataset (refused while a queued or running job uses it).");
        return app;
    }

    static async Task<Results<Created<DatasetInfo>, ProblemHttpResult>> Upload(
        HttpRequest request, string? name, string? columns, IDatasetStore store, IOptions<DatasetLimits> limits, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(name) || !NamePattern().IsMatch(name))
            return Problems.BadRequest("Query parameter 'name' is required: 1-100 letters, digits, '.', '_' or '-'.", field: "name");
        var format = MediaTypes.OfUpload(request.ContentType);
        if (format is null)
            return Problems.UnsupportedMediaType($"Content-Type '{request.ContentType}' is not accepted; send text/csv, application/json, application/x-npy (a .npy file) or application/x-idx (an IDX file, gzipped or not).");
        string[]? columnNames = columns?.Split(',', StringSplitOptions.TrimEntries);
        if (columnNames is not null && format != DatasetFormat.Npy)
            return Problems.BadRequest("Query parameter 'columns' names the columns of a .npy upload only; CSV and JSON carry their own.", field: "columns");
        try
        {
            byte[] body = await RequestBody.ReadLimitedAsync(request, limits.Value.MaxUploadBytes, cancellationToken);
            if (format == DatasetFormat.Npy && LooksLikeIdx(body))
                format = DatasetFormat.Idx;
            if (columnNames is not null && format == DatasetFormat.Idx)
                return Problems.BadRequest("Query parameter 'columns' names the columns of a 2-D .npy upload only; image pixels are named c{c}_y{y}_x{x}.", field: "columns");
            var table = DatasetParser.Parse(body, format.Value, limits.Value, columnNames);
            string sha256 = Convert.ToHexStringLower(SHA256.HashData(body));
            var info = await store.AddAsync(name, format.Value, table, sha256, body.LongLength, cancellationToken);
            return TypedResults.Created($"/datasets/{info.Id}", info);
        }
        catch (DatasetValidationException e)
        {
            return Problems.Dataset(e);
        }
    }

    static async Task<Ok<IReadOnlyList<DatasetInfo>>> List(IDatasetStore store, CancellationToken cancellationToken) =>
        TypedResults.Ok(await store.ListAsync(cancellationToken));

    static async Task<Results<Ok<DatasetInfo>, ProblemHttpResult>> Get(string id, IDatasetStore store, CancellationToken cancellationToken) =>
        await store.GetAsync(id, cancellationToken) is { } info
            ? TypedResults.Ok(info)
            : Problems.NotFound($"No dataset has id '{id}'.");

    static async Task<Results<NoContent, ProblemHttpResult>> Delete(string id, IDatasetStore store, IJobStore jobs, CancellationToken cancellationToken)
    {
        if (await store.GetAsync(id, cancellationToken) is null)
            return Problems.NotFound($"No dataset has id '{id}'.");
        if (await jobs.HasActiveJobsForDatasetAsync(id, cancellationToken))
            return Problems.Conflict($"Dataset '{id}' is used by a queued or running job; cancel it first.");
        await store.DeleteAsync(id, cancellationToken);
        return TypedResults.NoContent();
    }

    /// <summary>An IDX file (two zero bytes, then the type byte) or a gzip stream, rather than a .npy (which starts with \x93NUMPY).</summary>
    static bool LooksLikeIdx(byte[] body) =>
        body.Length >= 3 && ((body[0] == 0x1f && body[1] == 0x8b) || (body[0] == 0 && body[1] == 0 && body[2] != 0));

    // \z, not $: $ also matches before a final "\n", which would let "name\n" through.
    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,100}\z")]
    private static partial Regex NamePattern();
}
