namespace FlowService.Api.Contracts;

/// <summary>POST /keys: a name for people (e.g. the client or team), one of reader, scorer, trainer, admin, and an optional expiry.</summary>
public sealed record CreateKeyRequest(string? Name, string? Role, DateTimeOffset? ExpiresAt);
