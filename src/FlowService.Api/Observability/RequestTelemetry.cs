using Microsoft.AspNetCore.Http;

namespace FlowService.Api.Observability;

/// <summary>
/// What an endpoint tells the request log about its request: the model name and version it served. Stored in
/// <see cref="HttpContext.Items"/> so endpoints need no logger of their own for it.
/// </summary>
public static class RequestTelemetry
{
    internal const string ModelKey = "FlowService.Telemetry.Model";
    internal const string ModelVersionKey = "FlowService.Telemetry.ModelVersion";

    public static void SetModel(HttpContext context, string model, int version)
    {
        context.Items[ModelKey] = model;
        context.Items[ModelVersionKey] = version;
    }

    internal static (string? Model, int? Version) GetModel(HttpContext context) =>
        (context.Items.TryGetValue(ModelKey, out var m) ? m as string : null,
         context.Items.TryGetValue(ModelVersionKey, out var v) ? v as int? : null);
}
