using FlowService.Api.Contracts;
using FlowService.Api.Security;
using FlowService.Training.Keys;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Endpoints;

/// <summary>POST/GET/DELETE /keys (admin only): API keys, shown once at creation, stored as hashes, revoked by deleting.</summary>
public static class KeysApi
{
    public static IEndpointRouteBuilder MapKeysApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/keys").WithTags("Keys").RequireAuthorization(ApiPolicies.Admin);
        group.MapPost("/", Create)
            .Accepts<CreateKeyRequest>("application/json")
            .WithSummary("Create an API key: 201 with the key itself, shown this once (only its SHA-256 is stored).");
        group.MapGet("/", List).WithSummary("Every key's id, name, role, creation, expiry and last use (never the key).");
        group.MapDelete("/{id}", Delete).WithSummary("Revoke a key: it stops working at once on this replica, and on every replica within FlowService:Auth:KeyCacheMilliseconds (0 with PostgreSQL).");
        return app;
    }

    static async Task<Results<Created<ApiKeyResponse>, ProblemHttpResult>> Create(CreateKeyRequest? body, IApiKeyStore store, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (body is null)
            return Problems.BadRequest("The body is empty; send {\"name\": ..., \"role\": ...}.", field: "$");
        if (string.IsNullOrWhiteSpace(body.Name) || body.Name.Length > 100 || body.Name.Any(char.IsControl))
            return Problems.BadRequest("'name' is required: 1-100 printable characters that say whose key this is.", field: "name");
        if (!ApiRoles.IsKnown(body.Role))
            return Problems.BadRequest($"'role' must be one of {string.Join(", ", ApiRoles.All)}.", field: "role");
        var now = clock.GetUtcNow();
        if (body.ExpiresAt is { } expires && expires <= now)
            return Problems.BadRequest("'expiresAt' is in the past.", field: "expiresAt");
        string secret = ApiKeys.New();
        // Whole microseconds: PostgreSQL keeps no more, so the answer equals what GET /keys shows later.
        var created = now.AddTicks(-(now.Ticks % 10));
        var key = new ApiKeyRecord(Guid.CreateVersion7().ToString("N"), body.Name, body.Role!, ApiKeys.Hash(secret), created, body.ExpiresAt, null);
        await store.AddAsync(key, cancellationToken);
        return TypedResults.Created($"/keys/{key.Id}", ApiKeyResponse.From(key, secret: secret));
    }

    static async Task<Ok<ApiKeyResponse[]>> List(IApiKeyStore store, ApiKeyValidator validator, CancellationToken cancellationToken) =>
        TypedResults.Ok((await store.ListAsync(cancellationToken)).Select(k => ApiKeyResponse.From(k, validator.PendingLastUsed(k.Id))).ToArray());

    static async Task<Results<NoContent, ProblemHttpResult>> Delete(string id, IApiKeyStore store, ApiKeyValidator validator, CancellationToken cancellationToken)
    {
        if (!await store.DeleteAsync(id, cancellationToken))
            return Problems.NotFound($"No API key has id '{id}'.");
        validator.Forget(id);
        return TypedResults.NoContent();
    }
}
