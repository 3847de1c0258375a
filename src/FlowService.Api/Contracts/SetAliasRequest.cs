namespace FlowService.Api.Contracts;

/// <summary>The body of PUT /models/{name}/aliases/{alias}.</summary>
public sealed record SetAliasRequest(int? Version);
