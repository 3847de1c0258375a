using System.Text.Json.Serialization;
using FlowService.Training.Keys;

namespace FlowService.Api.Contracts;

/// <summary>
/// An API key's metadata. <see cref="Key"/> is set only in the answer to POST /keys: the key is shown once and
/// stored only as its hash, so it cannot be shown again.
/// </summary>
public sealed record ApiKeyResponse(string Id, string Name, string Role, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt, DateTimeOffset? LastUsedAt,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Key = null)
{
    public static ApiKeyResponse From(ApiKeyRecord key, DateTimeOffset? pendingLastUsed = null, string? secret = null) =>
        new(key.Id, key.Name, key.Role, key.CreatedAt, key.ExpiresAt,
            pendingLastUsed is { } pending && (key.LastUsedAt is null || pending > key.LastUsedAt) ? pending : key.LastUsedAt, secret);
}
