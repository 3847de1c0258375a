using FlowService.Api.Hosting;
using FlowService.Training.Registry;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Scoring;

/// <summary>
/// At start, before the server takes requests (hosted services start first), loads and runs every version an
/// alias points at, up to the model cache's size, so that aliased models answer their first request warm.
/// A version that fails to load is logged and left to fail its requests; it does not stop the service.
/// </summary>
public sealed class ModelWarmupService(ScoringService scoring, IModelRegistry registry, IOptions<ScoringOptions> options,
    IOptions<FlowServiceOptions> service, ILogger<ModelWarmupService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.WarmUpAliasedModels || !service.Value.ServesApi)
            return;
        var aliased = (await registry.ListAsync(cancellationToken))
            .SelectMany(m => m.Aliases.Values.Distinct().Select(v => (m.Name, Version: v)))
            .Take(options.Value.ModelCacheSize);
        foreach (var (name, version) in aliased)
        {
            try
            {
                await scoring.PrepareAsync(name, version, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                logger.LogError(e, "Warm-up of aliased model {Model} v{ModelVersion} failed", name, version);
            }
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
