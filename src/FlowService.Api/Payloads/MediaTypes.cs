namespace FlowService.Api.Payloads;

/// <summary>
/// The one map from media types to formats, for dataset uploads and inference bodies alike: JSON
/// (<c>application/json</c>, any <c>+json</c>), CSV (<c>text/csv</c>, <c>application/csv</c>, <c>text/plain</c>) and .npy
/// (<c>application/x-npy</c>, <c>application/octet-stream</c>); and the formats a client Accepts.
/// </summary>
public static class MediaTypes
{
    public const string Json = "application/json";
    public const string Csv = "text/csv";
    public const string Npy = "application/x-npy";

    /// <summary>The body's format, or null for a content type no reader handles (415). No Content-Type means JSON.</summary>
    public static PayloadFormat? OfBody(string? contentType)
    {
        var mediaType = (contentType ?? "").AsSpan();
        int semicolon = mediaType.IndexOf(';');
        if (semicolon >= 0)
            mediaType = mediaType[..semicolon];
        mediaType = mediaType.Trim();
        if (mediaType.IsEmpty || mediaType.Equals(Json, StringComparison.OrdinalIgnoreCase) || mediaType.EndsWith("+json", StringComparison.OrdinalIgnoreCase))
            return PayloadFormat.Json;
        if (mediaType.Equals(Csv, StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/csv", StringComparison.OrdinalIgnoreCase)
            || mediaType.Equals("text/plain", StringComparison.OrdinalIgnoreCase))
            return PayloadFormat.Csv;
        if (mediaType.Equals(Npy, StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase))
            return PayloadFormat.Npy;
        return null;
    }

    /// <summary>A dataset upload's format, or null (415): unlike inference, an upload must say what it is.</summary>
    public static FlowService.Training.Datasets.DatasetFormat? OfUpload(string? contentType) =>
        string.IsNullOrWhiteSpace(contentType) ? null
        : IsIdx(contentType) ? FlowService.Training.Datasets.DatasetFormat.Idx
        : OfBody(contentType) switch
        {
            PayloadFormat.Csv => FlowService.Training.Datasets.DatasetFormat.Csv,
            PayloadFormat.Json => FlowService.Training.Datasets.DatasetFormat.Json,
            PayloadFormat.Npy => FlowService.Training.Datasets.DatasetFormat.Npy,
            _ => null,
        };

    /// <summary>IDX image files as MNIST ships them, raw or gzipped.</summary>
    private static bool IsIdx(string contentType)
    {
        var mediaType = contentType.Split(';')[0].Trim();
        return mediaType.Equals("application/x-idx", StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/gzip", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The response format the Accept header asks for: .npy, CSV (where the endpoint offers it), else JSON.</summary>
    public static PayloadFormat Accepted(HttpRequest request, bool csvOffered)
    {
        var accept = request.Headers.Accept.ToString();
        if (accept.Contains(Npy, StringComparison.OrdinalIgnoreCase))
            return PayloadFormat.Npy;
        if (csvOffered && accept.Contains(Csv, StringComparison.OrdinalIgnoreCase))
            return PayloadFormat.Csv;
        return PayloadFormat.Json;
    }
}
