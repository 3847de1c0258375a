namespace FlowService.Training.Keys;

/// <summary>
/// API keys in the metadata store (SQLite or PostgreSQL), so a key created or revoked through one replica is seen
/// by every replica on its next look-up.
/// </summary>
public interface IApiKeyStore
{
    Task AddAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>The key whose SHA-256 is <paramref name="hash"/>, expired or not; null when none (unknown or revoked).</summary>
    Task<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default);

    /// <summary>Every key, oldest first.</summary>
    Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Revokes a key by removing it; false when no key has that id.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Inserts the key with <paramref name="key"/>'s id, or replaces that row's hash, name, role and expiry (the bootstrap
    /// admin key: a changed configured value replaces, and so revokes, the old one).
    /// </summary>
    Task UpsertAsync(ApiKeyRecord key, CancellationToken cancellationToken = default);

    /// <summary>Records last-used times in one batch; ids that no longer exist are skipped.</summary>
    Task RecordLastUsedAsync(IReadOnlyDictionary<string, DateTimeOffset> lastUsed, CancellationToken cancellationToken = default);
}
