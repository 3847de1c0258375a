namespace FlowService.Api.Observability;

/// <summary>
/// Runs just before each /metrics collection, for gauges whose truth lives elsewhere (the job store's counts by
/// state): the hook refreshes a snapshot that an observable instrument then reports. Registered in DI.
/// </summary>
public interface IMetricsScrapeHook
{
    Task BeforeScrapeAsync(CancellationToken cancellationToken);
}
