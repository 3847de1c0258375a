using FlowService.Training.Jobs;
using FlowService.Training.Observability;
using Prometheus;

namespace FlowService.Api.Observability;

/// <summary>
/// Program.cs's one-liners: <c>builder.AddObservability()</c> (Serilog, the Prometheus registry and collectors,
/// OpenTelemetry tracing), <c>app.UseObservability()</c> (request log, HTTP metrics) and <c>app.MapMetrics()</c>.
/// </summary>
public static class ObservabilityExtensions
{
    public static WebApplicationBuilder AddObservability(this WebApplicationBuilder builder)
    {
        builder.AddSerilogLogging();
        builder.AddTracing();
        // One registry per host, not prometheus-net's static default: two hosts in one test process never mix, and
        // the default registry's adapters (every .NET meter and event counter in the process) never start.
        builder.Services.AddSingleton(_ =>
        {
            var registry = Prometheus.Metrics.NewCustomRegistry();
            DotNetStats.Register(registry);
            RuntimeMetrics.Register(registry);
            return registry;
        });
        builder.Services.AddSingleton(new MetricExemplars(Recorded: TracingSetup.ExportsTraces(builder.Configuration)));
        builder.Services.AddSingleton<InferenceMetrics>();
        builder.Services.AddSingleton<TrainingMetrics>();
        builder.Services.AddSingleton<TrainingTelemetry>();
        return builder;
    }

    /// <summary>
    /// The request log first (it sees the status every later middleware settled on), then prometheus-net's HTTP
    /// metrics (http_requests_received_total, http_request_duration_seconds, http_requests_in_progress), labelled by
    /// the endpoint's route template (never the raw path; "" when no endpoint matched). WebApplication runs routing
    /// before both, so the endpoint is known to them.
    /// </summary>
    public static WebApplication UseObservability(this WebApplication app)
    {
        app.UseFlowServiceRequestLogging();
        var registry = app.Services.GetRequiredService<CollectorRegistry>();
        var exemplars = app.Services.GetRequiredService<MetricExemplars>();
        app.UseHttpMetrics(options =>
        {
            options.SetMetricFactory(exemplars.Factory(registry));
            if (!exemplars.Recorded)
            {
                // The HTTP middleware asks its own predicate per request, whatever the factory says.
                options.RequestCount.ExemplarPredicate = _ => false;
                options.RequestDuration.ExemplarPredicate = _ => false;
            }
        });
        return app;
    }

    /// <summary>
    /// GET /metrics from this host's registry. Creates the collectors now, so every family is exported from the first
    /// scrape, and refreshes the jobs-by-state gauge from the job store before each scrape (every replica's jobs).
    /// </summary>
    public static IEndpointConventionBuilder MapMetrics(this IEndpointRouteBuilder endpoints, string pattern = "/metrics")
    {
        var services = endpoints.ServiceProvider;
        var registry = services.GetRequiredService<CollectorRegistry>();
        services.GetRequiredService<InferenceMetrics>();
        var training = services.GetRequiredService<TrainingMetrics>();
        var logger = services.GetRequiredService<ILogger<TrainingMetrics>>();
        registry.AddBeforeCollectCallback(async cancellationToken =>
        {
            // A host without a job store (a bare test host) simply has no jobs gauge values.
            if (services.GetService<IJobStore>() is not { } jobs) return;
            try
            {
                var counts = await jobs.CountByStateAsync(cancellationToken);
                training.SetJobCounts(Enum.GetValues<JobState>().ToDictionary(
                    s => s.ToString().ToLowerInvariant(), s => counts.TryGetValue(s, out var n) ? n : 0));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The gauge keeps its previous snapshot; the rest of the scrape still serves.
                logger.LogWarning(ex, "Could not read the job counts for flowservice_training_jobs");
            }
        });
        return endpoints.MapMetrics(pattern, registry).ExcludeFromDescription();
    }
}
