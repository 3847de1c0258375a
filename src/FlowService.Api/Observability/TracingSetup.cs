using FlowService.Training.Observability;
using Npgsql;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace FlowService.Api.Observability;

/// <summary>
/// OpenTelemetry traces: ASP.NET Core (W3C trace context in and out), HttpClient and Npgsql instrumentation, and the
/// service's own spans (<see cref="FlowServiceTracing"/>: training jobs and epochs, model loads, engine batches).
/// Exported over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> (or <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>) is set;
/// the exporter reads the other standard variables itself (protocol, headers, timeout), the SDK the sampler
/// (<c>OTEL_TRACES_SAMPLER</c>, <c>OTEL_TRACES_SAMPLER_ARG</c>) and <c>OTEL_SERVICE_NAME</c> /
/// <c>OTEL_RESOURCE_ATTRIBUTES</c>.
/// </summary>
/// <remarks>
/// Without an endpoint no tracer provider is registered at all (unless <c>FlowService:Tracing:Enabled</c> is true, for
/// an exporter added in code): recording every request's spans for nobody halved single-row scoring throughput on
/// two cores (bench/RESULTS.md). ASP.NET Core still starts an Activity per request, so log events keep their trace
/// ids and incoming <c>traceparent</c> headers are still continued.
/// </remarks>
public static class TracingSetup
{
    public const string DefaultServiceName = "flowservice";

    /// <summary>Records spans even without an OTLP endpoint (an exporter added in code, such as tests' in-memory one).</summary>
    public const string EnabledKey = "FlowService:Tracing:Enabled";

    public static WebApplicationBuilder AddTracing(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        bool export = ExportsTraces(configuration);
        if (!(configuration.GetValue<bool?>(EnabledKey) ?? export))
            return builder;
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                // OTEL_SERVICE_NAME, when set, is read by the SDK's environment detector and wins.
                if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"])) resource.AddService(DefaultServiceName);
            })
            .WithTracing(tracing =>
            {
                tracing.AddSource(FlowServiceTracing.Name)
                    .AddAspNetCoreInstrumentation(options => options.Filter = http => !IsProbeOrScrape(http.Request.Path))
                    .AddHttpClientInstrumentation()
                    .AddNpgsql();
                if (export) tracing.AddOtlpExporter();
            });
        return builder;
    }

    /// <summary>Whether spans leave the process: an OTLP endpoint (all signals, or traces) is configured.</summary>
    public static bool ExportsTraces(IConfiguration configuration) =>
        !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"])
        || !string.IsNullOrWhiteSpace(configuration["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"]);

    /// <summary>Kubelet probes and Prometheus scrapes every few seconds would be most of the traces and tell nothing.</summary>
    private static bool IsProbeOrScrape(PathString path) =>
        path.StartsWithSegments("/health", StringComparison.Ordinal) || path.StartsWithSegments("/metrics", StringComparison.Ordinal);
}
