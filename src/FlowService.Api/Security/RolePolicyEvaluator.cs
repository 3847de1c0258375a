using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http.Features.Authentication;

namespace FlowService.Api.Security;

/// <summary>
/// The policy evaluator AuthorizationMiddleware calls on every request, with a fast path for what
/// <see cref="ApiPolicies"/> asks: an authenticated caller in one of the policy's roles is admitted without building an
/// authorization context, a requirement set and a handler pass per request. The fast path decides only success, and only
/// from conditions that make the framework's evaluation succeed too (the primary identity authenticated; a role claim
/// among the allowed roles); every refusal, every other requirement and every policy with its own schemes goes to the
/// framework's evaluator (registered under <see cref="InnerKey"/>), so 401 and 403 answers are exactly the framework's.
/// </summary>
public sealed class RolePolicyEvaluator : IPolicyEvaluator
{
    /// <summary>The service key of the framework's own policy evaluator, which this one falls back to.</summary>
    public const string InnerKey = "FlowService.InnerPolicyEvaluator";

    static readonly Task<PolicyAuthorizationResult> Admitted = Task.FromResult(PolicyAuthorizationResult.Success());

    public Task<AuthenticateResult> AuthenticateAsync(AuthorizationPolicy policy, HttpContext context)
    {
        // As the framework's evaluator does for a policy without schemes of its own: the middleware's result stands.
        if (policy.AuthenticationSchemes.Count == 0
            && context.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult is { } result
            && ApiKeyAuthenticationHandler.TaskOf(result) is { } task)
            return task;
        return Inner(context).AuthenticateAsync(policy, context);
    }

    public Task<PolicyAuthorizationResult> AuthorizeAsync(AuthorizationPolicy policy, AuthenticateResult authenticationResult, HttpContext context, object? resource) =>
        authenticationResult.Succeeded && Admits(policy, context.User)
            ? Admitted
            : Inner(context).AuthorizeAsync(policy, authenticationResult, context, resource);

    /// <summary>True only when every requirement is one of the two the role policies are made of and holds.</summary>
    static bool Admits(AuthorizationPolicy policy, System.Security.Claims.ClaimsPrincipal user)
    {
        if (policy.Requirements.Count == 0)
            return false;
        foreach (var requirement in policy.Requirements)
        {
            switch (requirement)
            {
                case DenyAnonymousAuthorizationRequirement when user.Identity is { IsAuthenticated: true }:
                    continue;
                case RolesAuthorizationRequirement { AllowedRoles: string[] roles } when InAnyRole(user, roles):
                    continue;
                default:
                    return false;
            }
        }
        return true;
    }

    static bool InAnyRole(System.Security.Claims.ClaimsPrincipal user, string[] roles)
    {
        // A key's principal has one role claim, known without walking its claims (IsInRole's ordinal comparison).
        if (user.Identity is ApiKeyIdentity key)
            return Array.IndexOf(roles, key.Role) >= 0;
        foreach (string role in roles)
            if (user.IsInRole(role))
                return true;
        return false;
    }

    static IPolicyEvaluator Inner(HttpContext context) => context.RequestServices.GetRequiredKeyedService<IPolicyEvaluator>(InnerKey);
}
