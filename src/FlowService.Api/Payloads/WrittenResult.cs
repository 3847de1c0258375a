namespace FlowService.Api.Payloads;

/// <summary>A response body written by <paramref name="write"/> straight to the response (no intermediate DTO graph).</summary>
public sealed class WrittenResult(string contentType, Func<HttpResponse, Task> write, long? contentLength = null) : IResult
{
    public Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = contentType;
        if (contentLength is not null)
            response.ContentLength = contentLength;
        return write(response);
    }
}
