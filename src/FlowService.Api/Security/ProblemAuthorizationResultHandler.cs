using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;

namespace FlowService.Api.Security;

/// <summary>
/// 401 and 403 as RFC 7807 problems that say what was wrong: no credential, an unknown, revoked or expired key, a
/// bad token; or the role the caller has against the role the endpoint needs.
/// </summary>
public sealed class ProblemAuthorizationResultHandler(IProblemDetailsService problems) : IAuthorizationMiddlewareResultHandler
{
    readonly AuthorizationMiddlewareResultHandler _default = new();

    // Admitted requests (nearly all) go straight on: no state machine of this handler's on their path.
    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult) =>
        authorizeResult.Succeeded ? next(context) : RefuseAsync(next, context, policy, authorizeResult);

    async Task RefuseAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
    {
        if (authorizeResult.Challenged)
        {
            string? failure = context.Features.Get<IAuthenticateResultFeature>()?.AuthenticateResult?.Failure?.Message
                ?? (await context.AuthenticateAsync()).Failure?.Message;
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            context.Response.Headers.WWWAuthenticate = "Bearer";
            await WriteAsync(context, "Authentication required.",
                failure ?? "This endpoint needs a credential: send 'Authorization: Bearer <API key>' (or an OIDC token where configured).");
            return;
        }
        if (authorizeResult.Forbidden)
        {
            string role = context.User.FindFirstValue(context.User.Identity is ClaimsIdentity identity ? identity.RoleClaimType : ClaimTypes.Role) ?? "none";
            string needed = policy.Requirements.OfType<RolesAuthorizationRequirement>().FirstOrDefault()?.AllowedRoles.FirstOrDefault() ?? "another role";
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await WriteAsync(context, "Forbidden.", $"{context.Request.Method} {context.Request.Path} needs role '{needed}' or higher; the credential's role is '{role}'.");
            return;
        }
        await _default.HandleAsync(next, context, policy, authorizeResult);
    }

    async Task WriteAsync(HttpContext context, string title, string detail) =>
        await problems.WriteAsync(new ProblemDetailsContext
        {
            HttpContext = context,
            ProblemDetails = { Status = context.Response.StatusCode, Title = title, Detail = detail },
        });
}
