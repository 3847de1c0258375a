using System.Security.Claims;
using FlowService.Training.Keys;
using Microsoft.AspNetCore.Authentication;

namespace FlowService.Api.Security;

/// <summary>
/// A verified API key as the caller's identity: its id, name and role as claims, plus what every request of that key
/// reads, made once: the role (without walking the claims), the rate-limit partition name, and the completed
/// authentication result that all its requests share (<see cref="ApiKeyAuthenticationHandler.Authenticated"/>).
/// </summary>
public sealed class ApiKeyIdentity : ClaimsIdentity
{
    public ApiKeyIdentity(ApiKeyRecord key)
        : base([new Claim(ApiKeyAuthenticationHandler.KeyIdClaim, key.Id), new Claim(ClaimTypes.Name, key.Name), new Claim(ClaimTypes.Role, key.Role)],
            ApiKeyAuthenticationHandler.SchemeName, ClaimTypes.Name, ClaimTypes.Role)
    {
        Role = key.Role;
        Partition = "key:" + key.Id;
        Authenticated = Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(this), ApiKeyAuthenticationHandler.SchemeName)));
    }

    public string Role { get; }

    /// <summary>The key's rate-limit partition (<see cref="RateLimits.Caller"/>).</summary>
    public string Partition { get; }

    /// <summary>The successful result of authenticating this key, as a completed task.</summary>
    public Task<AuthenticateResult> Authenticated { get; }
}
