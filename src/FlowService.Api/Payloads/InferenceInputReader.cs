using FlowService.Api.Endpoints;
using FlowService.Api.Scoring;
using FlowService.Training.Datasets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Payloads;

/// <summary>
/// Turns a /score, /encode or /decode request into the model it targets and float32 row-major input and context
/// matrices, from a JSON, CSV or .npy body. Order of checks: content type (415), body size (413, before a byte is
/// parsed), target fields (400), the model (404), then the matrices against the model's columns (400, naming
/// the field, row and column). JSON carries the target in the body; CSV and .npy in the query string
/// (<c>?model=&amp;version=&amp;alias=</c>). CSV needs a header of the model's columns (any order, context columns
/// included); .npy is (rows, D + C): the feature columns in training order, then the context columns.
/// </summary>
public static class InferenceInputReader
{
    /// <param name="matrixField">The JSON field of the input rows: <c>rows</c> (score, encode) or <c>z</c> (decode).</param>
    /// <param name="latent">True when the input is latent codes (decode): columns z0..z{D-1} instead of the training columns.</param>
    public static async Task<(InferenceInput? Input, ProblemHttpResult? Problem)> ReadAsync(HttpRequest request, ScoringService scoring,
        DatasetLimits limits, ScoringOptions options, string matrixField, bool latent, CancellationToken cancellationToken)
    {
        var format = MediaTypes.OfBody(request.ContentType);
        if (format is null)
            return (null, Problems.UnsupportedMediaType($"Content-Type '{request.ContentType}' is not read here; send application/json, text/csv or application/x-npy."));
        ReadOnlyMemory<byte> body;
        try
        {
            body = await RequestBody.ReadAsync(request, options.MaxRequestBytes, "FlowService:Scoring:MaxRequestBytes", cancellationToken);
        }
        catch (DatasetValidationException e)
        {
            return (null, Problems.Dataset(e));
        }

        InferenceTarget target;
        JsonMatrixRanges matrices = default;
        var targetProblem = format == PayloadFormat.Json
            ? JsonInferenceReader.ReadTarget(body.Span, out target, out matrices)
            : InferenceTarget.FromQuery(request.Query, out target);
        if (targetProblem is not null)
            return (null, targetProblem);
        if (target.AnomalyQuantile is { } level && !(level > 0 && level < 1))
            return (null, Problems.BadRequest("'anomalyQuantile' must be in (0, 1), e.g. 0.01.", field: "anomalyQuantile"));

        var (model, failure) = await scoring.ResolveAsync(target.Model, target.Version, target.Alias, cancellationToken);
        if (failure is not null)
            return (null, Problems.Resolution(failure));
        var version = model!.Version;
        int d = version.Columns.Count;
        IReadOnlyList<string> names = latent ? Enumerable.Range(0, d).Select(i => $"z{i}").ToArray() : version.Columns;
        var contextNames = version.ContextColumns;
        int maxRows = limits.MaxScoreRows;

        float[] x, context = [];
        int rows;
        switch (format.Value)
        {
            case PayloadFormat.Csv:
                try
                {
                    var table = CsvDatasetParser.Parse(body.Span, new DatasetLimits { MaxRows = maxRows, MaxColumns = limits.MaxColumns, MaxUploadBytes = options.MaxRequestBytes });
                    if (CsvColumns.Select(table, names, contextNames, out x, out context) is { } mapProblem)
                        return (null, mapProblem);
                    rows = table.Rows;
                }
                catch (DatasetValidationException e)
                {
                    return (null, Problems.Dataset(e));
                }
                break;
            case PayloadFormat.Npy:
                if (NpyMatrix.Read(body.Span, names.Concat(contextNames).ToArray(), maxRows, out var both, out rows) is { } npyProblem)
                    return (null, npyProblem);
                (x, context) = Split(both, rows, d, contextNames.Count);
                break;
            default:
                // Images may come as nested [H][W] / [C][H][W] rows; latent codes are always flat.
                var image = latent ? null : ImageModelShape.Of(version);
                if (JsonInferenceReader.ReadMatrix(body.Span, matrices.Of(matrixField), matrixField, names, maxRows, out x, out rows, out bool present, image) is { } rowsProblem)
                    return (null, rowsProblem);
                if (!present)
                    return (null, Problems.BadRequest($"'{matrixField}' must hold at least one row of {d} numbers ({string.Join(", ", names)}).", field: matrixField));
                if (contextNames.Count == 0)
                {
                    if (JsonInferenceReader.HasElements(body.Span, matrices.Context))
                        return (null, Problems.BadRequest("This model is unconditional; send no 'context'.", field: "context"));
                }
                else
                {
                    if (JsonInferenceReader.ReadMatrix(body.Span, matrices.Context, "context", contextNames, maxRows, out context, out int contextRows, out bool hasContext) is { } contextProblem)
                        return (null, contextProblem);
                    if (!hasContext)
                        return (null, Problems.BadRequest($"This model is conditional: 'context' must hold one row of {contextNames.Count} numbers ({string.Join(", ", contextNames)}) per data row.", field: "context"));
                    if (contextRows != rows)
                        return (null, Problems.BadRequest($"'context' has {contextRows} rows but there are {rows} data rows.", field: "context"));
                }
                break;
        }
        return (new InferenceInput(model, x, context, rows, target.AnomalyQuantile ?? 0.01), null);
    }

    /// <summary>Splits (rows, D + C) into the features and the context.</summary>
    static (float[] X, float[] Context) Split(float[] both, int rows, int d, int c)
    {
        if (c == 0)
            return (both, []);
        var x = new float[rows * d];
        var context = new float[rows * c];
        for (int r = 0; r < rows; r++)
        {
            both.AsSpan(r * (d + c), d).CopyTo(x.AsSpan(r * d));
            both.AsSpan(r * (d + c) + d, c).CopyTo(context.AsSpan(r * c));
        }
        return (x, context);
    }
}
