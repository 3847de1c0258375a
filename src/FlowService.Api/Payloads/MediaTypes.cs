namespace FlowService.Api.Payloads;

/// <summary>Content negotiation for inference: the request's Content-Type and the formats a client Accepts.</summary>
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
        if (mediaType.Equals(Csv, StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/csv", StringComparison.OrdinalIgnoreCase))
            return PayloadFormat.Csv;
        if (mediaType.Equals(Npy, StringComparison.OrdinalIgnoreCase) || mediaType.Equals("application/octet-stream", StringComparison.OrdinalIgnoreCase))
            return PayloadFormat.Npy;
        return null;
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
