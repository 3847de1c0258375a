using FlowService.Model.Compute;

namespace FlowService.Api.Hosting;

/// <summary>
/// Resolves the compute backend while the host starts (hosted services start before the server listens), so a
/// device that cannot be had stops the process with the reason instead of failing the first job or request.
/// </summary>
public sealed class ComputeBackendAtStart(IServiceProvider services) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        services.GetRequiredService<IBackend>();
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
