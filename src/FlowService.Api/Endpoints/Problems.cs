using FlowService.Training.Datasets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Endpoints;

/// <summary>
/// RFC 7807 problems with the place of the error as extension members: <c>field</c> (a JSON path in
/// the request), <c>line</c> (CSV line, 1-based), <c>row</c> (data row, 1-based), <c>column</c> (name).
/// </summary>
public static class Problems
{
    public static ProblemHttpResult BadRequest(string detail, string? field = null, long? row = null, string? column = null) =>
        Create(StatusCodes.Status400BadRequest, "The request is invalid.", detail, field: field, row: row, column: column);

    /// <summary>A 400 about text inside a field (an expression): <c>position</c> is the 0-based character offset of the bad token in it.</summary>
    public static ProblemHttpResult BadRequestAt(string detail, string field, int position)
    {
        var result = BadRequest(detail, field);
        result.ProblemDetails.Extensions["position"] = position;
        return result;
    }

    public static ProblemHttpResult NotFound(string detail, string? field = null) =>
        Create(StatusCodes.Status404NotFound, "Not found.", detail, field: field);

    public static ProblemHttpResult Conflict(string detail) =>
        Create(StatusCodes.Status409Conflict, "The resource's state does not allow this.", detail);

    public static ProblemHttpResult UnsupportedMediaType(string detail) =>
        Create(StatusCodes.Status415UnsupportedMediaType, "Unsupported content type.", detail);

    public static ProblemHttpResult Dataset(DatasetValidationException e) => e.TooLarge
        ? Create(StatusCodes.Status413PayloadTooLarge, "The upload is too large.", e.Message)
        : Create(StatusCodes.Status400BadRequest, "The dataset is invalid.", e.Message, line: e.Line, row: e.Row, column: e.Column);

    /// <summary>A request whose model could not be resolved: 400 when it was malformed, 404 when what it named does not exist, 409 when it cannot be served.</summary>
    public static ProblemHttpResult Resolution(Scoring.ResolutionFailure failure) =>
        failure.Invalid ? BadRequest(failure.Message, field: failure.Field)
        : failure.Unavailable ? Conflict(failure.Message)
        : NotFound(failure.Message, field: failure.Field);

    public static ProblemHttpResult Create(int status, string title, string detail, string? field = null, long? line = null, long? row = null, string? column = null)
    {
        var extensions = new Dictionary<string, object?>();
        if (field is not null) extensions["field"] = field;
        if (line is not null) extensions["line"] = line;
        if (row is not null) extensions["row"] = row;
        if (column is not null) extensions["column"] = column;
        return TypedResults.Problem(detail: detail, statusCode: status, title: title, extensions: extensions);
    }
}
