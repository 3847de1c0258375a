using System.Data.Common;
using Microsoft.AspNetCore.Diagnostics;

namespace FlowService.Api.Hosting;

/// <summary>
/// Turns "the database is down, restarting or out of reach" (a DbException that says IsTransient, such as
/// a refused connection or a server shutting down) into a 503 problem with Retry-After, instead of a 500:
/// the request was fine and can be sent again. Connections are opened per request, so service resumes by
/// itself once the database answers again.
/// </summary>
internal sealed class StorageUnavailableHandler(IProblemDetailsService problems, ILogger<StorageUnavailableHandler> logger) : IExceptionHandler
{
    const int RetryAfterSeconds = 5;

    public async ValueTask<bool> TryHandleAsync(HttpContext context, Exception exception, CancellationToken cancellationToken)
    {
        var transient = Transient(exception);
        if (transient is null || context.Response.HasStarted)
            return false;
        logger.LogWarning("Storage unavailable for {Method} {Path}: {Reason}", context.Request.Method, context.Request.Path, transient.Message);
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "Storage unavailable.",
                Detail = $"The metadata database cannot be reached ({transient.Message}); retry in a few seconds.",
            },
        });
    }

    static DbException? Transient(Exception exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
            if (e is DbException { IsTransient: true } db)
                return db;
        return null;
    }
}
