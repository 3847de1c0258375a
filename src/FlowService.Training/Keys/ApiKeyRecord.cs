namespace FlowService.Training.Keys;

/// <summary>
/// One API key as stored: never the key itself, only its SHA-256 (<see cref="Hash"/>, lower-case hex). Keys are 256
/// random bits, so a plain hash cannot be reversed by guessing and needs no per-key salt or slow KDF.
/// </summary>
/// <param name="Role">One of <see cref="ApiRoles.All"/>.</param>
/// <param name="LastUsedAt">When a request last presented the key (written in batches, so it may lag by the flush interval).</param>
public sealed record ApiKeyRecord(
    string Id,
    string Name,
    string Role,
    string Hash,
    DateTimeOffset CreatedAt,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? LastUsedAt)
{
    public bool IsExpired(DateTimeOffset now) => ExpiresAt is { } expires && expires <= now;
}
