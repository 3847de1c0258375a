using FlowService.Training.Datasets;
using Microsoft.AspNetCore.Http.Features;

namespace FlowService.Api.Endpoints;

/// <summary>Reads a request body into memory, refusing more than a byte limit (413) before reading it whole.</summary>
public static class RequestBody
{
    public static async Task<byte[]> ReadLimitedAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
            throw new DatasetValidationException($"The body has {request.ContentLength} bytes; at most {maxBytes} are allowed (FlowService:Limits:MaxUploadBytes).", tooLarge: true);
        // Kestrel's own limit (30 MB by default) must not cut the body below the configured one.
        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
            sizeFeature.MaxRequestBodySize = maxBytes + 1;

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + read > maxBytes)
                throw new DatasetValidationException($"The body exceeds {maxBytes} bytes (FlowService:Limits:MaxUploadBytes).", tooLarge: true);
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }
}
