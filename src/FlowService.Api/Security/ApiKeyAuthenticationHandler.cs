using System.Runtime.CompilerServices;
using System.Security.Claims;
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
        // Most requests present a key verified a moment ago: answered from the validator's cache, from the header's
        // own characters, before any string is made of them.
        if (validator.TryCached(BearerToken.Span(Request), out var cached))
            return Success(cached);
        if (BearerToken.From(Request) is not { } token)
            return Request.Headers.Authorization.Count == 0
                ? AuthenticateResult.NoResult()
                : AuthenticateResult.Fail("The Authorization header must be 'Bearer <API key or token>'.");
        var (key, failure) = await validator.ValidateAsync(token, Context.RequestAborted);
        return key is null ? AuthenticateResult.Fail(failure!) : Success(key);
    }

    static AuthenticateResult Success(ApiKeyRecord key) => Authenticated(key).Result;

    /// <summary>
    /// The result of authenticating <paramref name="key"/>, as a completed task: one per verified key record, shared by
    /// that key's requests while the validator caches the record (<see cref="CachedKeyAuthenticationService"/> answers
    /// with it directly). The principal is only read (roles, key id), so building it per request was allocation for
    /// nothing. A record that leaves the validator's cache takes its result with it.
    /// </summary>
    public static Task<AuthenticateResult> Authenticated(ApiKeyRecord key) => Results.GetValue(key, static k =>
    {
        var task = Task.FromResult(AuthenticateResult.Success(Ticket(k.Id, k.Name, k.Role)));
        Tasks.AddOrUpdate(task.Result, task);
        return task;
    });

    /// <summary>The shared task of a result <see cref="Authenticated"/> made; null for any other result.</summary>
    public static Task<AuthenticateResult>? TaskOf(AuthenticateResult result) => Tasks.TryGetValue(result, out var task) ? task : null;

    /// <summary>The role of a principal this handler made (a key's); null for any other principal.</summary>
    public static string? RoleOf(ClaimsPrincipal principal) => Roles.TryGetValue(principal, out var role) ? role : null;

    static readonly ConditionalWeakTable<ApiKeyRecord, Task<AuthenticateResult>> Results = [];
    static readonly ConditionalWeakTable<ClaimsPrincipal, string> Roles = [];
    static readonly ConditionalWeakTable<AuthenticateResult, Task<AuthenticateResult>> Tasks = [];

    static AuthenticationTicket Ticket(string id, string name, string role)
    {
        var identity = new ClaimsIdentity(
            [new Claim(KeyIdClaim, id), new Claim(ClaimTypes.Name, name), new Claim(ClaimTypes.Role, role)],
            SchemeName, ClaimTypes.Name, ClaimTypes.Role);
        var principal = new ClaimsPrincipal(identity);
        Roles.AddOrUpdate(principal, role);
        return new AuthenticationTicket(principal, SchemeName);
    }
}
