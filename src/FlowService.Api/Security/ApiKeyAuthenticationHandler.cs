using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using FlowService.Training.Keys;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Security;

/// <summary>
/// <c>Authorization: Bearer &lt;API key&gt;</c>: the key's id, name and role become the caller's identity. Registered
/// only when callers are checked: a process running open (<see cref="AuthenticationState.Open"/>) has no authentication.
/// </summary>
public sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    ApiKeyValidator validator)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "ApiKey";
    public const string KeyIdClaim = "key_id";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        // A key verified a moment ago is answered by CachedKeyAuthenticationService before this handler is built;
        // ValidateAsync still looks in the cache first (for callers without that fast path).
        if (BearerToken.From(Request) is not { } token)
            return Request.Headers.Authorization.Count == 0
                ? AuthenticateResult.NoResult()
                : AuthenticateResult.Fail("The Authorization header must be 'Bearer <API key or token>'.");
        var (key, failure) = await validator.ValidateAsync(token, Context.RequestAborted);
        return key is null ? AuthenticateResult.Fail(failure!) : Authenticated(key).Result;
    }

    /// <summary>
    /// The result of authenticating <paramref name="key"/>, as a completed task: one per verified key record, shared by
    /// that key's requests while the validator caches the record (<see cref="CachedKeyAuthenticationService"/> answers
    /// with it directly). The principal is only read (roles, key id), so building it per request was allocation for
    /// nothing. A record that leaves the validator's cache takes its result with it.
    /// </summary>
    public static Task<AuthenticateResult> Authenticated(ApiKeyRecord key) => Results.GetValue(key, static k => new ApiKeyIdentity(k).Authenticated);

    /// <summary>The shared task of a result <see cref="Authenticated"/> made; null for any other result.</summary>
    public static Task<AuthenticateResult>? TaskOf(AuthenticateResult result) =>
        result.Principal?.Identity is ApiKeyIdentity identity && ReferenceEquals(identity.Authenticated.Result, result) ? identity.Authenticated : null;

    static readonly ConditionalWeakTable<ApiKeyRecord, Task<AuthenticateResult>> Results = [];
}
