using FlowService.Training.Observability;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Serilog.Core;
using Serilog.Extensions.Logging;

namespace FlowService.Api.Observability;

/// <summary>Program.cs's one-liners: <c>builder.AddObservability()</c>, <c>app.UseRequestLogging()</c>, <c>app.MapMetrics()</c>.</summary>
public static class ObservabilityExtensions
{
    /// <summary>Serilog as the only logging provider, and the metric instruments and exporter as singletons.</summary>
    public static WebApplicationBuilder AddObservability(this WebApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        var environment = builder.Environment;
        builder.Logging.ClearProviders();
        // Serilog's own minimum levels decide; the Logging:LogLevel rules would otherwise filter first.
        builder.Logging.AddFilter<SerilogLoggerProvider>(null, LogLevel.Trace);
        builder.Services.AddSingleton<ILoggerProvider>(sp =>
            new SerilogLoggerProvider(LoggingSetup.CreateLogger(configuration, environment, sp.GetServices<ILogEventSink>()), dispose: true));

        builder.Services.AddMetrics();
        builder.Services.AddSingleton<HttpMetrics>();
        builder.Services.AddSingleton<InferenceMetrics>();
        builder.Services.AddSingleton<ProcessMetrics>();
        builder.Services.AddSingleton<TrainingMetrics>();
        builder.Services.AddSingleton<TrainingTelemetry>();
        builder.Services.AddSingleton<IMetricsScrapeHook, JobStateScrapeHook>();
        builder.Services.AddSingleton<PrometheusExporter>();
        return builder;
    }

    /// <summary>Put first in the pipeline, so that it sees the status every later middleware settled on.</summary>
    public static IApplicationBuilder UseRequestLogging(this IApplicationBuilder app) => app.UseMiddleware<RequestLoggingMiddleware>();

    /// <summary>GET /metrics in the Prometheus text format. Creates the instruments now, so every family is exported from the first scrape.</summary>
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder endpoints, string pattern = "/metrics")
    {
        var services = endpoints.ServiceProvider;
        services.GetRequiredService<PrometheusExporter>();
        services.GetRequiredService<HttpMetrics>();
        services.GetRequiredService<InferenceMetrics>();
        services.GetRequiredService<ProcessMetrics>();
        services.GetRequiredService<TrainingMetrics>();
        return endpoints.MapGet(pattern, async (PrometheusExporter exporter, CancellationToken cancellationToken) =>
                Results.Text(await exporter.CollectAsync(cancellationToken), PrometheusExporter.ContentType))
            .ExcludeFromDescription();
    }
}
