using System.Collections.Concurrent;
using System.Diagnostics;
using FlowService.Training.Keys;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Security;

/// <summary>
/// Checks presented keys. A cache of verified keys, by the presented key itself, answers most requests without
/// hashing or allocating (<see cref="TryCached"/>); otherwise SHA-256 of the key and a look-up in the store, whose
/// answer is trusted for <see cref="AuthOptions.KeyCacheMilliseconds"/>. Unknown keys are never cached, so a key
/// created on another replica works at once; revoking through this process drops the entry at once, and through
/// another replica (PostgreSQL) as its notification arrives (<see cref="KeyRevocationListener"/>, which also turns the
/// cache off while it cannot hear them). The cache holds keys in memory as every request that presents them does; it
/// never holds more entries than there are valid keys in use. Last-used times are recorded in memory (no database
/// write per request) and flushed in batches by <see cref="LastUsedFlusher"/>.
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

    readonly ConcurrentDictionary<string, Entry> _byKey = new(StringComparer.Ordinal);
    readonly ConcurrentDictionary<string, LastUse> _lastUsed = new(StringComparer.Ordinal);
    readonly long _cacheTicks = (long)(options.Value.KeyCacheMilliseconds ?? 1000) * Stopwatch.Frequency / 1000;
    volatile bool _trustCache = true;

    /// <summary>
    /// The cached record of <paramref name="presented"/> when it was verified within the cache's time and has not
    /// expired (its use recorded); false when the store must be asked (<see cref="ValidateAsync"/>). No hashing and no
    /// allocation: the presented key is looked up as a span of the request's header.
    /// </summary>
    public bool TryCached(ReadOnlySpan<char> presented, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out ApiKeyRecord? key)
    {
        key = null;
        if (_cacheTicks <= 0 || !_trustCache || !_byKey.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(presented, out var entry)
            || Stopwatch.GetTimestamp() - entry.VerifiedAt >= _cacheTicks)
            return false;
        var at = clock.GetUtcNow();
        if (entry.Key.IsExpired(at))
            return false;
        RecordUse(entry.Key, at);
        key = entry.Key;
        return true;
    }

    /// <summary>The key's record when it exists and has not expired; otherwise null and why.</summary>
    public async ValueTask<(ApiKeyRecord? Key, string? Failure)> ValidateAsync(string presented, CancellationToken cancellationToken)
    {
        if (TryCached(presented, out var cached))
            return (cached, null);
        long now = Stopwatch.GetTimestamp();
        var key = await store.FindByHashAsync(ApiKeys.Hash(presented), cancellationToken);
        if (key is null)
        {
            _byKey.TryRemove(presented, out _);
            return (null, "The API key is unknown or has been revoked.");
        }
        if (_cacheTicks > 0 && _trustCache)
            _byKey[presented] = new Entry(key, now);
        var at = clock.GetUtcNow();
        if (key.IsExpired(at))
            return (null, $"The API key '{key.Name}' expired at {key.ExpiresAt:O}.");
        RecordUse(key, at);
        return (key, null);
    }

    void RecordUse(ApiKeyRecord key, DateTimeOffset at)
    {
        var use = _lastUsed.GetOrAdd(key.Id, static _ => new LastUse());
        // Concurrent requests may write in any order; the stored time is then off by the time between them, which
        // a last-used time (flushed every few seconds) does not notice.
        Volatile.Write(ref use.UsedTicks, at.UtcTicks);
    }

    /// <summary>Drops a revoked key from this process's cache.</summary>
    public void Forget(string keyId)
    {
        foreach (var (presented, entry) in _byKey)
            if (entry.Key.Id == keyId)
                _byKey.TryRemove(presented, out _);
        _lastUsed.TryRemove(keyId, out _);
    }

    /// <summary>
    /// False: every request asks the store (nothing tells this process of revocations elsewhere); true: the cache is used
    /// again. Either way every key verified before is dropped: revocations may have been missed while nothing told of them.
    /// </summary>
    public void TrustCache(bool trust)
    {
        _trustCache = trust;
        _byKey.Clear();
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
