using Microsoft.Extensions.Options;

namespace FlowService.Api.Security;

/// <summary>Writes keys' last-used times every <see cref="AuthOptions.LastUsedFlushSeconds"/> and once more at shutdown.</summary>
public sealed class LastUsedFlusher(ApiKeyValidator validator, IOptions<AuthOptions> options, ILogger<LastUsedFlusher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromSeconds(options.Value.LastUsedFlushSeconds);
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
                await FlushAsync(stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
        await FlushAsync(CancellationToken.None);
    }

    async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await validator.FlushLastUsedAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Last-used is informational: a store outage must not stop the service; the times stay queued for the next flush.
            logger.LogWarning(e, "Could not record API keys' last-used times");
        }
    }
}
