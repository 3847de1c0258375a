using FlowService.Training.Keys;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Security;

/// <summary>
/// Ensures the configured <see cref="AuthOptions.BootstrapAdminKey"/> at start: one row with a fixed id, whose hash is
/// replaced when the configured value changes, so rotating the setting revokes the old bootstrap key.
/// </summary>
public sealed class BootstrapAdminKey(IApiKeyStore store, IOptions<AuthOptions> options, ILogger<BootstrapAdminKey> logger) : IHostedService
{
    public const string Id = "bootstrap-admin";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.BootstrapAdminKey is not { Length: > 0 } key)
            return;
        await store.UpsertAsync(new ApiKeyRecord(Id, Id, ApiRoles.Admin, ApiKeys.Hash(key), DateTimeOffset.UtcNow, null, null), cancellationToken);
        logger.LogInformation("Bootstrap admin key ensured (id {KeyId})", Id);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
