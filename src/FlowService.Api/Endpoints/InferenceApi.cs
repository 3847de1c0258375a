using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FlowService.Api.Contracts;
using FlowService.Api.Hosting;
using FlowService.Api.Observability;
using FlowService.Api.Scoring;
using FlowService.Training.Datasets;
using FlowService.Training.Registry;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Endpoints;

/// <summary>POST /score, /encode, /decode and GET /sample: exact densities, latent codes, inverses and samples.</summary>
public static class InferenceApi
{
    public static IEndpointRouteBuilder MapInferenceApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/").WithTags("Inference");
        group.MapPost("/score", Score)
            .Accepts<ScoreRequest>("application/json", "text/csv")
            .WithSummary("Exact log p(x) per row, anomaly flags (log p below the validation quantile) and percentiles. A text/csv body needs a header of the training columns and ?model=.")
            .WithRequestExample("application/json", ApiExamples.Score)
            .WithRequestExample("text/csv", ApiExamples.ScoreCsv)
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.ScoreResult);
        group.MapPost("/encode", Encode).Accepts<EncodeRequest>("application/json")
            .WithSummary("Latent codes z = f(x) and log|det ∂f/∂x| per row.")
            .WithRequestExample("application/json", ApiExamples.Encode)
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.EncodeResult);
        group.MapPost("/decode", Decode).Accepts<DecodeRequest>("application/json")
            .WithSummary("The exact inverse x = f⁻¹(z), in the units of the training data.")
            .WithRequestExample("application/json", ApiExamples.Decode)
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.DecodeResult);
        group.MapGet("/sample", Sample)
            .WithSummary("n samples (seeded, temperature-scaled base noise) as JSON, or CSV with Accept: text/csv; streamed in chunks.")
            .Produces(StatusCodes.Status200OK, contentType: "text/csv")
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.SampleResult);
        return app;
    }

    static async Task<Results<Ok<ScoreResponse>, ProblemHttpResult>> Score(
        HttpRequest request, ScoringService scoring, InferenceMetrics metrics, IOptions<DatasetLimits> limits, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        string mediaType = (request.ContentType ?? "").Split(';')[0].Trim().ToLowerInvariant();
        ScoreRequest? body;
        if (mediaType is "text/csv" or "application/csv")
        {
            var query = request.Query;
            int? requested = int.TryParse(query["version"], CultureInfo.InvariantCulture, out int v) ? v : null;
            double? quantile = double.TryParse(query["anomalyQuantile"], CultureInfo.InvariantCulture, out double q) ? q : null;
            body = new ScoreRequest(query["model"], requested, query["alias"], null, null, quantile);
        }
        else
        {
            var (parsed, problem) = await ReadJsonAsync<ScoreRequest>(request, json.Value, cancellationToken);
            if (problem is not null)
                return problem;
            body = parsed!;
        }
        double level = body.AnomalyQuantile ?? 0.01;
        if (!(level > 0 && level < 1))
            return Problems.BadRequest("'anomalyQuantile' must be in (0, 1), e.g. 0.01.", field: "anomalyQuantile");
        var (model, resolveProblem) = await scoring.ResolveAsync(body.Model, body.Version, body.Alias, cancellationToken);
        if (resolveProblem is not null)
            return resolveProblem;
        var version = model!.Version;
        int maxRows = limits.Value.MaxScoreRows;

        float[] x, context;
        int rows;
        if (body.Rows is null && mediaType is "text/csv" or "application/csv")
        {
            var (table, csvProblem) = await ReadCsvAsync(request, limits.Value, cancellationToken);
            if (csvProblem is not null)
                return csvProblem;
            if (CsvColumns.Select(table!, version.Columns, version.ContextColumns, out x, out context) is { } mapError)
                return mapError;
            rows = table!.Rows;
        }
        else
        {
            if (InferenceInput.TryConvert(body.Rows, version.Columns.Count, "rows", maxRows, version.Columns, out x) is { } error)
                return Problems.BadRequest(error.Message, field: error.Field);
            rows = body.Rows!.Length;
            if (ContextOf(body.Context, rows, version.ContextColumns, maxRows, out context) is { } contextProblem)
                return contextProblem;
        }

        var logProb = new float[rows];
        long started = Stopwatch.GetTimestamp();
        model.Flow.LogProb(x, rows, context, logProb);
        Observe(request, metrics, InferenceOperation.Score, version, rows, started);
        double threshold = version.Calibration.Threshold(level);
        var anomaly = logProb.Select(lp => lp < threshold).ToArray();
        metrics.RecordAnomalies(version.Model, version.Version, anomaly.Count(a => a));
        return TypedResults.Ok(new ScoreResponse(
            version.Model, version.Version, logProb, anomaly,
            logProb.Select(lp => version.Calibration.Percentile(lp)).ToArray(), threshold));
    }

    static async Task<Results<Ok<EncodeResponse>, ProblemHttpResult>> Encode(
        HttpRequest request, ScoringService scoring, InferenceMetrics metrics, IOptions<DatasetLimits> limits, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadJsonAsync<EncodeRequest>(request, json.Value, cancellationToken);
        if (problem is not null)
            return problem;
        var (model, resolveProblem) = await scoring.ResolveAsync(body!.Model, body.Version, body.Alias, cancellationToken);
        if (resolveProblem is not null)
            return resolveProblem;
        var version = model!.Version;
        int d = version.Columns.Count;
        if (InferenceInput.TryConvert(body.Rows, d, "rows", limits.Value.MaxScoreRows, version.Columns, out var x) is { } error)
            return Problems.BadRequest(error.Message, field: error.Field);
        int rows = body.Rows!.Length;
        if (ContextOf(body.Context, rows, version.ContextColumns, limits.Value.MaxScoreRows, out var context) is { } contextProblem)
            return contextProblem;
        var z = new float[rows * d];
        var logDet = new float[rows];
        long started = Stopwatch.GetTimestamp();
        model.Flow.Encode(x, rows, context, z, logDet);
        Observe(request, metrics, InferenceOperation.Encode, version, rows, started);
        return TypedResults.Ok(new EncodeResponse(version.Model, version.Version, InferenceInput.ToRows(z, rows, d), logDet));
    }

    static async Task<Results<Ok<DecodeResponse>, ProblemHttpResult>> Decode(
        HttpRequest request, ScoringService scoring, InferenceMetrics metrics, IOptions<DatasetLimits> limits, IOptions<JsonOptions> json, CancellationToken cancellationToken)
    {
        var (body, problem) = await ReadJsonAsync<DecodeRequest>(request, json.Value, cancellationToken);
        if (problem is not null)
            return problem;
        var (model, resolveProblem) = await scoring.ResolveAsync(body!.Model, body.Version, body.Alias, cancellationToken);
        if (resolveProblem is not null)
            return resolveProblem;
        var version = model!.Version;
        int d = version.Columns.Count;
        var latentNames = Enumerable.Range(0, d).Select(i => $"z{i}").ToArray();
        if (InferenceInput.TryConvert(body.Z, d, "z", limits.Value.MaxScoreRows, latentNames, out var z) is { } error)
            return Problems.BadRequest(error.Message, field: error.Field);
        int rows = body.Z!.Length;
        if (ContextOf(body.Context, rows, version.ContextColumns, limits.Value.MaxScoreRows, out var context) is { } contextProblem)
            return contextProblem;
        var x = new float[rows * d];
        long started = Stopwatch.GetTimestamp();
        model.Flow.Decode(z, rows, context, x);
        Observe(request, metrics, InferenceOperation.Decode, version, rows, started);
        return TypedResults.Ok(new DecodeResponse(version.Model, version.Version, version.Columns, InferenceInput.ToRows(x, rows, d)));
    }

    static async Task<Results<PushStreamHttpResult, ProblemHttpResult>> Sample(
        HttpRequest request, string? model, int? version, string? alias, string? context, ScoringService scoring, InferenceMetrics metrics,
        IOptions<DatasetLimits> limits, IOptions<ScoringOptions> options, CancellationToken cancellationToken, int n = 100, int seed = 1, float temperature = 1)
    {
        if (n < 1 || n > limits.Value.MaxSampleCount)
            return Problems.BadRequest($"'n' must be between 1 and {limits.Value.MaxSampleCount} (FlowService:Limits:MaxSampleCount).", field: "n");
        if (!(temperature > 0 && temperature <= 10))
            return Problems.BadRequest("'temperature' must be in (0, 10].", field: "temperature");
        var (resolved, problem) = await scoring.ResolveAsync(model, version, alias, cancellationToken);
        if (problem is not null)
            return problem;
        var v = resolved!.Version;
        float[] contextRow = [];
        if (v.ContextColumns.Count > 0)
        {
            var parts = (context ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length != v.ContextColumns.Count || !parts.All(p => float.TryParse(p, CultureInfo.InvariantCulture, out float f) && float.IsFinite(f)))
                return Problems.BadRequest($"This model is conditional: 'context' must be {v.ContextColumns.Count} comma-separated numbers ({string.Join(", ", v.ContextColumns)}).", field: "context");
            contextRow = parts.Select(p => float.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        }
        bool csv = request.Headers.Accept.ToString().Contains("text/csv", StringComparison.OrdinalIgnoreCase);
        var stream = new SampleStream(resolved.Flow, v.Columns, contextRow, n, seed, temperature, Math.Max(1, options.Value.SampleChunkRows));
        return TypedResults.Stream(
            async body =>
            {
                long started = Stopwatch.GetTimestamp();
                await (csv ? stream.WriteCsvAsync(body, cancellationToken) : stream.WriteJsonAsync(body, v.Model, v.Version, cancellationToken));
                Observe(request, metrics, InferenceOperation.Sample, v, n, started);
            },
            csv ? "text/csv" : "application/json");
    }

    /// <summary>One served call: the model and version for the request log, rows and duration for the metrics.</summary>
    static void Observe(HttpRequest request, InferenceMetrics metrics, InferenceOperation operation, ModelVersion version, int rows, long started)
    {
        RequestTelemetry.SetModel(request.HttpContext, version.Model, version.Version);
        metrics.RecordCall(operation, version.Model, version.Version, rows, Stopwatch.GetElapsedTime(started).TotalSeconds);
        // No dynamic batching yet: every call runs as one batch through the flow.
        metrics.RecordBatch(rows);
    }

    static ProblemHttpResult? ContextOf(double[][]? rows, int count, IReadOnlyList<string> names, int maxRows, out float[] context)
    {
        context = [];
        if (names.Count == 0)
            return rows is null || rows.Length == 0 ? null : Problems.BadRequest("This model is unconditional; send no 'context'.", field: "context");
        if (InferenceInput.TryConvert(rows, names.Count, "context", maxRows, names, out context) is { } error)
            return Problems.BadRequest(error.Message, field: error.Field);
        return rows!.Length == count ? null : Problems.BadRequest($"'context' has {rows.Length} rows but there are {count} data rows.", field: "context");
    }

    static async Task<(T? Body, ProblemHttpResult? Problem)> ReadJsonAsync<T>(HttpRequest request, JsonOptions json, CancellationToken cancellationToken) where T : class
    {
        try
        {
            var body = await JsonSerializer.DeserializeAsync<T>(request.Body, json.SerializerOptions, cancellationToken);
            return body is null ? (null, Problems.BadRequest("The body is empty; send a JSON object.", field: "$")) : (body, null);
        }
        catch (JsonException e)
        {
            return (null, Problems.BadRequest($"The body is not valid: {e.Message}", field: e.Path ?? "$"));
        }
    }

    static async Task<(NumericTable? Table, ProblemHttpResult? Problem)> ReadCsvAsync(HttpRequest request, DatasetLimits limits, CancellationToken cancellationToken)
    {
        try
        {
            byte[] bytes = await RequestBody.ReadLimitedAsync(request, limits.MaxUploadBytes, cancellationToken);
            var scoringLimits = new DatasetLimits { MaxRows = limits.MaxScoreRows, MaxColumns = limits.MaxColumns, MaxUploadBytes = limits.MaxUploadBytes };
            return (CsvDatasetParser.Parse(bytes, scoringLimits), null);
        }
        catch (DatasetValidationException e)
        {
            return (null, Problems.Dataset(e));
        }
    }
}
