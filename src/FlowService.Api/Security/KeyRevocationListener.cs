using FlowService.Training.Keys;
using FlowService.Training.Storage;
using Npgsql;

namespace FlowService.Api.Security;

/// <summary>
/// With PostgreSQL, where several replicas share the keys: LISTENs on <see cref="PostgresApiKeyStore.RevocationChannel"/>
/// and drops each deleted or replaced key from this replica's cache of verified keys as the notification arrives
/// (milliseconds after the change commits, on whichever replica made it). That is what lets every replica cache
/// verified keys (no database round trip per request) and still honour a revocation at once. While it is not
/// listening (before the first LISTEN, after a lost connection until the next one), notifications could be missed, so
/// the validator stops trusting its cache and asks the store on every request; on each new LISTEN it forgets
/// everything it had verified, since a revocation may have come and gone in between.
/// </summary>
public sealed class KeyRevocationListener(PostgresDatabase database, ApiKeyValidator validator, ILogger<KeyRevocationListener> logger)
    : BackgroundService
{
    static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(10);

    volatile bool _listening;

    /// <summary>Whether revocations reach this replica now (its LISTEN is in place), so its cache of verified keys is in use.</summary>
    public bool IsListening => _listening;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        validator.TrustCache(false);
        var delay = TimeSpan.FromMilliseconds(200);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await database.OpenAsync(stoppingToken);
                connection.Notification += (_, e) => validator.Forget(e.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {PostgresApiKeyStore.RevocationChannel}", connection))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                validator.TrustCache(true);
                _listening = true;
                delay = TimeSpan.FromMilliseconds(200);
                logger.LogDebug("Listening for key revocations on {Channel}.", PostgresApiKeyStore.RevocationChannel);
                while (true)
                    await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e)
            {
                // Whatever broke the channel, the safe state is the same (no cache) and the host keeps serving: an
                // exception escaping a BackgroundService would stop the whole process.
                _listening = false;
                validator.TrustCache(false);
                logger.LogWarning(e, "Lost the key-revocation channel; every request asks the database until it is back (retry in {Delay} ms).", delay.TotalMilliseconds);
            }
            try
            {
                await Task.Delay(delay, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = TimeSpan.FromTicks(Math.Min(MaxRetryDelay.Ticks, delay.Ticks * 2));
        }
    }
}
