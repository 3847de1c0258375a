using System.Collections.Concurrent;
using System.Diagnostics;
using FlowService.Training.Keys;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Security;

/// <summary>
/// Checks presented keys: SHA-256 of the key, then a cache of verified keys by hash, asking the store when the entry
/// is older than <see cref="AuthOptions.KeyCacheMilliseconds"/>. Unknown keys are never cached, so a key created on
/// another replica works at once; revoking through this process drops the entry at once, and through another replica
/// (PostgreSQL) as its notification arrives (<see cref="KeyRevocationListener"/>, which also turns the cache off while
/// it cannot hear them). Last-used times are
/// recorded in memory (no database write per request) and flushed in batches by <see cref="LastUsedFlusher"/>.
/// </summary>
public sealed class ApiKeyValidator(IApiKeyStore store, IOptions<AuthOptions> options, TimeProvider clock)
{
    sealed record Entry(ApiKeyRecord Key, long VerifiedAt);

    /// <summary>
    /// A key's newest use and the newest use already written, as UTC ticks. One holder per key, written without a
    /// lock: every request of a busy key records its use here, and a dictionary write per request would serialize
    /// them all on the key's bucket lock.
    /// </summary>
    sealed class LastUse
    {
        public long UsedTicks;
        public long FlushedTicks;
    }

    readonly ConcurrentDictionary<string, Entry> _byHash = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, LastUse> _lastUsed = new(StringComparer.Ordinal);
    readonly long _cacheTicks = (long)(options.Value.KeyCacheMilliseconds ?? 1000) * Stopwatch.Frequency / 1000;
    volatile bool _trustCache = true;

    /// <summary>The key's record when it exists and has not expired; otherwise null and why.</summary>
    public async ValueTask<(ApiKeyRecord? Key, string? Failure)> ValidateAsync(string presented, CancellationToken cancellationToken)
    {
        string hash = ApiKeys.Hash(presented);
        long now = Stopwatch.GetTimestamp();
        ApiKeyRecord? key;
        bool cache = _cacheTicks > 0 && _trustCache;
        if (cache && _byHash.TryGetValue(hash, out var entry) && now - entry.VerifiedAt < _cacheTicks)
            key = entry.Key;
        else
        {
            key = await store.FindByHashAsync(hash, cancellationToken);
            if (key is null)
            {
                _byHash.TryRemove(hash, out _);
                return (null, "The API key is unknown or has been revoked.");
            }
            if (cache)
                _byHash[hash] = new Entry(key, now);
        }
        var at = clock.GetUtcNow();
        if (key.IsExpired(at))
            return (null, $"The API key '{key.Name}' expired at {key.ExpiresAt:O}.");
        var use = _lastUsed.GetOrAdd(key.Id, static _ => new LastUse());
        // Concurrent requests may write in any order; the stored time is then off by the time between them, which
        // a last-used time (flushed every few seconds) does not notice.
        Volatile.Write(ref use.UsedTicks, at.UtcTicks);
        return (key, null);
    }

    /// <summary>Drops a revoked key from this process's cache.</summary>
    public void Forget(string keyId)
    {
        foreach (var (hash, entry) in _byHash)
            if (entry.Key.Id == keyId)
                _byHash.TryRemove(hash, out _);
        _lastUsed.TryRemove(keyId, out _);
    }

    /// <summary>Drops every verified key (revocations may have been missed, e.g. while the revocation channel was down).</summary>
    public void ForgetAll() => _byHash.Clear();

    /// <summary>False: every request asks the store (nothing tells this process of revocations elsewhere); true: the cache is used again.</summary>
    public void TrustCache(bool trust)
    {
        _trustCache = trust;
        if (!trust)
            _byHash.Clear();
    }

    /// <summary>Last-used times not yet written, for GET /keys to show the newest.</summary>
    public DateTimeOffset? PendingLastUsed(string keyId) =>
        _lastUsed.TryGetValue(keyId, out var use) && Volatile.Read(ref use.UsedTicks) is var used && used > Volatile.Read(ref use.FlushedTicks)
            ? new DateTimeOffset(used, TimeSpan.Zero)
            : null;

    /// <summary>Writes the last-used times recorded since the previous flush, in one batch.</summary>
    public async Task FlushLastUsedAsync(CancellationToken cancellationToken)
    {
        var batch = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        var written = new List<(LastUse Use, long Ticks)>();
        foreach (var (id, use) in _lastUsed)
        {
            long used = Volatile.Read(ref use.UsedTicks);
            if (used <= Volatile.Read(ref use.FlushedTicks))
                continue;
            batch[id] = new DateTimeOffset(used, TimeSpan.Zero);
            written.Add((use, used));
        }
        if (batch.Count == 0)
            return;
        await store.RecordLastUsedAsync(batch, cancellationToken);
        // Only after the store took them: a failed write leaves them pending for the next flush.
        foreach (var (use, ticks) in written)
            Volatile.Write(ref use.FlushedTicks, ticks);
    }
}
