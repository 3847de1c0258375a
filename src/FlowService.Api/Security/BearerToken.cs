namespace FlowService.Api.Security;

/// <summary>The credential of an <c>Authorization: Bearer &lt;token&gt;</c> header.</summary>
public static class BearerToken
{
    /// <summary>The credential as a span of the header (no allocation); empty when there is none.</summary>
    public static ReadOnlySpan<char> Span(HttpRequest request)
    {
        string? header = request.Headers.Authorization;
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
            return [];
        return header.AsSpan("Bearer ".Length).Trim();
    }

    /// <summary>The credential as a string; null when there is none.</summary>
    public static string? From(HttpRequest request) => Span(request) is { IsEmpty: false } token ? token.ToString() : null;

    /// <summary>A JWT is three base64url parts joined by '.'; API keys never contain a '.'.</summary>
    public static bool LooksLikeJwt(string token) => token.AsSpan().Count('.') == 2;
}
