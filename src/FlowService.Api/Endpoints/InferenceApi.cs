using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowService.Api.Contracts;
using FlowService.Api.Hosting;
using FlowService.Api.Observability;
using FlowService.Api.Payloads;
using FlowService.Api.Scoring;
using FlowService.Api.Security;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Images;
using FlowService.Training.Registry;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Endpoints;

/// <summary>
/// POST /score, /encode, /decode and GET /sample: exact densities, latent codes, inverses and samples. Every call is
/// admitted first (past <see cref="ScoringOptions.MaxConcurrentRequests"/> a 503 with Retry-After, before the body is
/// read); /score, /encode and /decode then go through the model version's dynamic batcher.
/// </summary>
public static class InferenceApi
{
    public static IEndpointRouteBuilder MapInferenceApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/").WithTags("Inference").RequireAuthorization(ApiPolicies.Scorer).RequireRateLimiting(RateLimits.Inference);
        group.MapPost("/score", Score)
            .Accepts<ScoreRequest>(MediaTypes.Json, MediaTypes.Csv, MediaTypes.Npy)
            .Produces<ScoreResponse>(StatusCodes.Status200OK, MediaTypes.Json)
            .WithSummary("Exact log p(x) per row, anomaly flags (log p below the validation quantile) and percentiles. A text/csv body needs a header of the training columns, a .npy body is (rows, columns) in training order; both take ?model=. Image models also take JSON rows as nested [H][W] or [C][H][W] arrays, and (N, H, W) / (N, C, H, W) .npy bodies.")
            .WithRequestExample(MediaTypes.Json, ApiExamples.Score)
            .WithRequestExample(MediaTypes.Csv, ApiExamples.ScoreCsv)
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.ScoreResult);
        group.MapPost("/encode", Encode)
            .Accepts<EncodeRequest>(MediaTypes.Json, MediaTypes.Csv, MediaTypes.Npy)
            .Produces<EncodeResponse>(StatusCodes.Status200OK, MediaTypes.Json, MediaTypes.Npy)
            .WithSummary("Latent codes z = f(x) and log|det ∂f/∂x| per row. Accept: application/x-npy answers a (rows, D + 1) float32 array, log|det| last.")
            .WithRequestExample(MediaTypes.Json, ApiExamples.Encode)
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.EncodeResult);
        group.MapPost("/decode", Decode)
            .Accepts<DecodeRequest>(MediaTypes.Json, MediaTypes.Csv, MediaTypes.Npy)
            .Produces<DecodeResponse>(StatusCodes.Status200OK, MediaTypes.Json, MediaTypes.Npy)
            .WithSummary("The exact inverse x = f⁻¹(z), in the units of the training data. CSV bodies name the latent columns z0, z1, ...; Accept: application/x-npy answers (rows, D) float32.")
            .WithRequestExample(MediaTypes.Json, ApiExamples.Decode)
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.DecodeResult);
        group.MapGet("/sample", Sample)
            .WithSummary("n samples (seeded, temperature-scaled base noise) as JSON, CSV (Accept: text/csv) or float32 .npy (Accept: application/x-npy); streamed in chunks. " +
                "Image models answer Accept: application/x-npy with uint8 pixels shaped (n, H, W) or (n, C, H, W), and Accept: image/png with a PNG grid of the samples (n <= 256).")
            .Produces(StatusCodes.Status200OK, contentType: MediaTypes.Csv)
            .Produces(StatusCodes.Status200OK, contentType: "image/png")
            .Produces(StatusCodes.Status200OK, contentType: MediaTypes.Npy)
            .WithResponseExample(StatusCodes.Status200OK, ApiExamples.SampleResult);
        return app;
    }

    static async Task<IResult> Score(HttpContext http, ScoringService scoring, InferenceAdmission admission, InferenceMetrics metrics,
        IOptions<DatasetLimits> limits, IOptions<ScoringOptions> options, CancellationToken cancellationToken)
    {
        var (input, refusal) = await AdmitAndReadAsync(http, scoring, admission, metrics, limits.Value, options.Value, "rows", latent: false, cancellationToken);
        if (refusal is not null)
            return refusal;
        var (model, rows) = (input!.Model, input.Rows);
        var logProb = new float[rows];
        if (await RunBatchedAsync(http, model.Served.Score, InferenceOperation.Score, input, logProb, [], metrics, options.Value, cancellationToken) is { } overloaded)
            return overloaded;
        double threshold = model.Version.Calibration.Threshold(input.AnomalyQuantile);
        int flagged = 0;
        foreach (float lp in logProb)
            if (!(lp >= threshold))
                flagged++;
        metrics.RecordAnomalies(model.Version.Model, model.Version.Version, flagged);
        return InferenceResponses.Score(model.Version, logProb, rows, threshold);
    }

    /// <summary>One engine call through the version's batcher, recorded in the metrics; the 503 answer when the batcher refused it, else null.</summary>
    static async Task<IResult?> RunBatchedAsync(HttpContext http, DynamicBatcher batcher, InferenceOperation operation, InferenceInput input,
        float[] output0, float[] output1, InferenceMetrics metrics, ScoringOptions options, CancellationToken cancellationToken)
    {
        long started = Stopwatch.GetTimestamp();
        try
        {
            await batcher.RunAsync(input.X, input.Context, input.Rows, output0, output1, cancellationToken);
        }
        catch (ServiceOverloadedException e)
        {
            return Overloaded(http, options, e);
        }
        Observe(http, metrics, operation, input.Model.Version, input.Rows, started);
        return null;
    }

    static async Task<IResult> Encode(HttpContext http, ScoringService scoring, InferenceAdmission admission, InferenceMetrics metrics,
        IOptions<DatasetLimits> limits, IOptions<ScoringOptions> options, CancellationToken cancellationToken)
    {
        var (input, refusal) = await AdmitAndReadAsync(http, scoring, admission, metrics, limits.Value, options.Value, "rows", latent: false, cancellationToken);
        if (refusal is not null)
            return refusal;
        var (model, rows) = (input!.Model, input.Rows);
        int d = model.Version.Columns.Count;
        var z = new float[rows * d];
        var logDet = new float[rows];
        if (await RunBatchedAsync(http, model.Served.Encode, InferenceOperation.Encode, input, z, logDet, metrics, options.Value, cancellationToken) is { } overloaded)
            return overloaded;
        return InferenceResponses.Encode(MediaTypes.Accepted(http.Request, csvOffered: false), model.Version, z, logDet, rows, d);
    }

    static async Task<IResult> Decode(HttpContext http, ScoringService scoring, InferenceAdmission admission, InferenceMetrics metrics,
        IOptions<DatasetLimits> limits, IOptions<ScoringOptions> options, CancellationToken cancellationToken)
    {
        var (input, refusal) = await AdmitAndReadAsync(http, scoring, admission, metrics, limits.Value, options.Value, "z", latent: true, cancellationToken);
        if (refusal is not null)
            return refusal;
        var (model, rows) = (input!.Model, input.Rows);
        int d = model.Version.Columns.Count;
        var x = new float[rows * d];
        if (await RunBatchedAsync(http, model.Served.Decode, InferenceOperation.Decode, input, x, [], metrics, options.Value, cancellationToken) is { } overloaded)
            return overloaded;
        return InferenceResponses.Decode(MediaTypes.Accepted(http.Request, csvOffered: false), model.Version, x, rows, d);
    }

    static async Task<IResult> Sample(
        HttpContext http, string? model, int? version, string? alias, string? context, ScoringService scoring, InferenceAdmission admission, InferenceMetrics metrics,
        IOptions<DatasetLimits> limits, IOptions<ScoringOptions> options, CancellationToken cancellationToken, int n = 100, int seed = 1, float temperature = 1)
    {
        if (Admit(http, admission, metrics, options.Value) is { } refused)
            return refused;
        if (n < 1 || n > limits.Value.MaxSampleCount)
            return Problems.BadRequest($"'n' must be between 1 and {limits.Value.MaxSampleCount} (FlowService:Limits:MaxSampleCount).", field: "n");
        if (!(temperature > 0 && temperature <= 10))
            return Problems.BadRequest("'temperature' must be in (0, 10].", field: "temperature");
        var (resolved, failure) = await scoring.ResolveAsync(model, version, alias, cancellationToken);
        if (failure is not null)
            return Problems.Resolution(failure);
        var v = resolved!.Version;
        float[] contextRow = [];
        if (v.ContextColumns.Count > 0)
        {
            var parts = (context ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (parts.Length != v.ContextColumns.Count || !parts.All(p => float.TryParse(p, CultureInfo.InvariantCulture, out float f) && float.IsFinite(f)))
                return Problems.BadRequest($"This model is conditional: 'context' must be {v.ContextColumns.Count} comma-separated numbers ({string.Join(", ", v.ContextColumns)}).", field: "context");
            contextRow = parts.Select(p => float.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        }
        if (http.Request.Headers.Accept.Any(a => a is not null && a.Contains("image/png", StringComparison.OrdinalIgnoreCase)))
            return SamplePng(http, metrics, resolved.Flow, v, n, seed, temperature);
        var format = MediaTypes.Accepted(http.Request, csvOffered: true);
        var stream = new SampleStream(resolved.Flow, v.Columns, contextRow, n, seed, temperature, options.Value.SampleChunkRows);
        if (format == PayloadFormat.Npy && ImageModelShape.Of(v) is { } image)
        {
            // Images come back as what they are: uint8 pixels, (n, H, W) or (n, C, H, W).
            async Task WriteImages(HttpResponse response)
            {
                long started = Stopwatch.GetTimestamp();
                await stream.WriteImageNpyAsync(image, response.BodyWriter, cancellationToken);
                Observe(http, metrics, InferenceOperation.Sample, v, n, started);
            }
            return new WrittenResult(MediaTypes.Npy, WriteImages, SampleStream.ImageNpyLength(image, n));
        }
        async Task Write(HttpResponse response)
        {
            long started = Stopwatch.GetTimestamp();
            var body = response.BodyWriter;
            await (format switch
            {
                PayloadFormat.Npy => stream.WriteNpyAsync(body, cancellationToken),
                PayloadFormat.Csv => stream.WriteCsvAsync(body, cancellationToken),
                _ => stream.WriteJsonAsync(body, v.Model, v.Version, cancellationToken),
            });
            Observe(http, metrics, InferenceOperation.Sample, v, n, started);
        }
        return format switch
        {
            PayloadFormat.Npy => new WrittenResult(MediaTypes.Npy, Write, stream.NpyLength),
            PayloadFormat.Csv => new WrittenResult(MediaTypes.Csv, Write),
            _ => new WrittenResult(MediaTypes.Json, Write),
        };
    }

    /// <summary>
    /// Accept: image/png on an image model: the n samples (n ≤ <see cref="MaxPngSamples"/>) as one PNG grid, pixel values
    /// floor(x · 256 / pixelRange) clamped to 0..255 (grey for 1 channel, RGB for 3).
    /// </summary>
    static IResult SamplePng(HttpContext http, InferenceMetrics metrics, IDensityFlow flow, ModelVersion v, int n, int seed, float temperature)
    {
        if (ImageModelShape.Of(v) is not { } image)
            return Problems.Create(StatusCodes.Status406NotAcceptable, "Not an image model.",
                $"Model '{v.Model}' version {v.Version} is not an image flow; ask for application/json, text/csv or application/x-npy.");
        if (n > MaxPngSamples)
            return Problems.BadRequest($"A PNG grid shows at most {MaxPngSamples} samples, not {n}.", field: "n");
        if (image.Channels is not (1 or 3))
            return Problems.Create(StatusCodes.Status406NotAcceptable, "No PNG for this image shape.",
                $"The model's images have {image.Channels} channels; a PNG shows 1 (grey) or 3 (RGB). Ask for application/x-npy.");
        long started = Stopwatch.GetTimestamp();
        var x = new float[n * image.Channels * image.Height * image.Width];
        flow.Sample(n, seed, temperature, [], x);
        var pixels = new byte[x.Length];
        for (int i = 0; i < x.Length; i++)
            pixels[i] = image.ToByte(x[i]);
        var png = PngGrid.Encode(pixels, n, image.Channels, image.Height, image.Width);
        Observe(http, metrics, InferenceOperation.Sample, v, n, started);
        return TypedResults.File(png, "image/png");
    }

    /// <summary>The most samples one PNG grid shows.</summary>
    public const int MaxPngSamples = 256;

    /// <summary>
    /// What /score, /encode and /decode do first: an admission slot, then the body read into rows of the resolved model
    /// (<paramref name="field"/> names the rows in problems; <paramref name="latent"/>: rows are latent codes). The input,
    /// or the 503/4xx answer that refused the request.
    /// </summary>
    static async Task<(InferenceInput? Input, IResult? Refusal)> AdmitAndReadAsync(HttpContext http, ScoringService scoring, InferenceAdmission admission,
        InferenceMetrics metrics, DatasetLimits limits, ScoringOptions options, string field, bool latent, CancellationToken cancellationToken)
    {
        if (Admit(http, admission, metrics, options) is { } refused)
            return (null, refused);
        var (input, problem) = await InferenceInputReader.ReadAsync(http.Request, scoring, limits, options, field, latent, cancellationToken);
        return (input, problem);
    }

    /// <summary>
    /// Takes an admission slot held until the response is complete (streamed bodies included), or answers 503 at once.
    /// </summary>
    static IResult? Admit(HttpContext http, InferenceAdmission admission, InferenceMetrics metrics, ScoringOptions options)
    {
        var lease = admission.TryEnter();
        if (lease is not null)
        {
            http.Response.RegisterForDispose(lease);
            return null;
        }
        metrics.RecordRejection(OverloadReason.Concurrency);
        return Overloaded(http, options, new ServiceOverloadedException(OverloadReason.Concurrency,
            $"{admission.Limit} inference requests are in progress, the most this instance takes at once (FlowService:Scoring:MaxConcurrentRequests)."));
    }

    static IResult Overloaded(HttpContext http, ScoringOptions options, ServiceOverloadedException e)
    {
        http.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return Problems.Create(StatusCodes.Status503ServiceUnavailable, "The service is at capacity; retry later.", e.Message);
    }

    /// <summary>One served call: the model and version for the request log, rows and duration (queueing included) for the metrics.</summary>
    static void Observe(HttpContext http, InferenceMetrics metrics, InferenceOperation operation, ModelVersion version, int rows, long started)
    {
        RequestTelemetry.SetModel(http, version.Model, version.Version);
        metrics.RecordCall(operation, version.Model, version.Version, rows, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }
}
