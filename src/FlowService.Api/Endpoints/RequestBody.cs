using System.Runtime.InteropServices;
using FlowService.Training.Datasets;
using Microsoft.AspNetCore.Http.Features;

namespace FlowService.Api.Endpoints;

/// <summary>Reads a request body into memory, refusing more than a byte limit (413) before reading it whole.</summary>
public static class RequestBody
{
    /// <exception cref="DatasetValidationException">TooLarge: the body is over <paramref name="maxBytes"/>, by its Content-Length (before a byte is read) or as it arrives.</exception>
    public static async Task<byte[]> ReadLimitedAsync(HttpRequest request, long maxBytes, CancellationToken cancellationToken)
    {
        var body = await ReadAsync(request, maxBytes, "FlowService:Limits:MaxUploadBytes", cancellationToken);
        // An upload can be tens of megabytes: hand over the array read into rather than copying it.
        return MemoryMarshal.TryGetArray(body, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : body.ToArray();
    }

    /// <summary>
    /// The body as one buffer, read at most <paramref name="maxBytes"/> far. With a Content-Length (the usual case) it is
    /// refused before reading when too long, and read into an array of exactly that size; without one it grows as it arrives.
    /// </summary>
    /// <param name="setting">The configuration key of the limit, named in the 413 problem.</param>
    public static async Task<ReadOnlyMemory<byte>> ReadAsync(HttpRequest request, long maxBytes, string setting, CancellationToken cancellationToken)
    {
        if (request.ContentLength > maxBytes)
            throw new DatasetValidationException($"The body has {request.ContentLength} bytes; at most {maxBytes} are allowed ({setting}).", tooLarge: true);
        // Kestrel's own limit (30 MB by default) must not cut the body below the configured one.
        var sizeFeature = request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (sizeFeature is { IsReadOnly: false })
            sizeFeature.MaxRequestBodySize = maxBytes + 1;

        if (request.ContentLength is { } length)
        {
            var exact = new byte[length];
            int at = 0;
            while (at < exact.Length)
            {
                int read = await request.Body.ReadAsync(exact.AsMemory(at), cancellationToken);
                if (read == 0)
                    break;
                at += read;
            }
            return exact.AsMemory(0, at);
        }

        using var buffer = new MemoryStream();
        var chunk = new byte[81920];
        int got;
        while ((got = await request.Body.ReadAsync(chunk, cancellationToken)) > 0)
        {
            if (buffer.Length + got > maxBytes)
                throw new DatasetValidationException($"The body exceeds {maxBytes} bytes ({setting}).", tooLarge: true);
            buffer.Write(chunk, 0, got);
        }
        return buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
    }
}
