using FlowService.Api.Hosting;
using Microsoft.AspNetCore.Authentication;

namespace FlowService.Api.Security;

/// <summary>
/// The authentication service with a fast path for the common request: an API key this process verified a moment ago.
/// AuthenticationMiddleware asks this service for the default scheme on every request; the framework's service then
/// builds the scheme's handler, initializes it, runs it, runs claims transformation and wraps the ticket anew, which
/// on a single-row /score was most of what authentication cost. For a key the validator's cache answers
/// (<see cref="ApiKeyValidator.TryCached"/>: same expiry check, same last-used record) the answer is the key's one
/// shared result (<see cref="ApiKeyAuthenticationHandler.Authenticated"/>), which is what the handler itself returns for it.
/// Everything else (unknown or uncached keys, JWTs, no credential, challenges and forbids) goes to the framework's service,
/// registered under <see cref="InnerKey"/>.
/// </summary>
/// <remarks>
/// The fast path skips claims transformation, so it is on only while none is registered (the framework's no-op one);
/// an <see cref="IClaimsTransformation"/> added later turns it off rather than being bypassed.
/// </remarks>
public sealed class CachedKeyAuthenticationService(ApiKeyValidator validator) : IAuthenticationService
{
    /// <summary>The service key of the framework's own authentication service, which this one falls back to.</summary>
    public const string InnerKey = "FlowService.InnerAuthenticationService";

    // Decided on the first request, from its scope: a transformation may be registered scoped, which a singleton may not hold.
    bool? _fastPath;

    public Task<AuthenticateResult> AuthenticateAsync(HttpContext context, string? scheme)
    {
        // Every scheme the default can be (the key handler itself, or the selector that forwards non-JWT bearers to it):
        // a cached key has no '.', so the selector would forward it to the key handler too.
        _fastPath ??= context.RequestServices.GetService<IClaimsTransformation>() is NoopClaimsTransformation;
        if (_fastPath == true && scheme is null or ApiKeyAuthenticationHandler.SchemeName or SecurityRegistration.SelectorScheme
            && validator.TryCached(BearerToken.Span(context.Request), out var key))
            return ApiKeyAuthenticationHandler.Authenticated(key);
        return Inner(context).AuthenticateAsync(context, scheme);
    }

    public Task ChallengeAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) =>
        Inner(context).ChallengeAsync(context, scheme, properties);

    public Task ForbidAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) =>
        Inner(context).ForbidAsync(context, scheme, properties);

    public Task SignInAsync(HttpContext context, string? scheme, System.Security.Claims.ClaimsPrincipal principal, AuthenticationProperties? properties) =>
        Inner(context).SignInAsync(context, scheme, principal, properties);

    public Task SignOutAsync(HttpContext context, string? scheme, AuthenticationProperties? properties) =>
        Inner(context).SignOutAsync(context, scheme, properties);

    static IAuthenticationService Inner(HttpContext context) =>
        context.RequestServices.GetRequiredKeyedService<IAuthenticationService>(InnerKey);
}
