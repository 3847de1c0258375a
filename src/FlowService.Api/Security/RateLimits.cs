using System.Globalization;
using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace FlowService.Api.Security;

/// <summary>
/// The rate-limiter policies, partitioned by credential: <see cref="Inference"/> (token bucket per key) and
/// <see cref="Jobs"/> (job submissions per key per hour). A refusal is a 429 problem with Retry-After.
/// </summary>
public static class RateLimits
{
    public const string Inference = "inference";
    public const string Jobs = "jobs";

    public static void Configure(RateLimiterOptions limiter, RateLimitOptions options, AuthenticationState state)
    {
        limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
        limiter.OnRejected = RejectAsync;
        int rate = options.InferenceRequestsPerSecond;
        // The partitions' factories are made once: the policy runs for every request, and a lambda built inside it
        // would be a new closure per request.
        var tokenBucket = new TokenBucketRateLimiterOptions
        {
            TokenLimit = options.InferenceBurst ?? 2 * rate,
            TokensPerPeriod = rate,
            ReplenishmentPeriod = TimeSpan.FromSeconds(1),
            QueueLimit = 0,
            AutoReplenishment = true,
        };
        Func<string, RateLimiter> inferenceLimiter = _ => new TokenBucketRateLimiter(tokenBucket);
        limiter.AddPolicy(Inference, http => Caller(http, state) is { } caller && rate > 0
            ? RateLimitPartition.Get(caller, inferenceLimiter)
            : Unlimited);
        int jobs = options.JobsPerHour;
        var fixedWindow = new FixedWindowRateLimiterOptions
        {
            PermitLimit = Math.Max(1, jobs),
            Window = TimeSpan.FromHours(1),
            QueueLimit = 0,
        };
        Func<string, RateLimiter> jobsLimiter = _ => new FixedWindowRateLimiter(fixedWindow);
        limiter.AddPolicy(Jobs, http => Caller(http, state) is { } caller && jobs > 0
            ? RateLimitPartition.Get(caller, jobsLimiter)
            : Unlimited);
    }

    static readonly RateLimitPartition<string> Unlimited = RateLimitPartition.GetNoLimiter("unlimited");

    /// <summary>The key id, or the token's issuer and subject; null when authentication is off.</summary>
    public static string? Caller(HttpContext http, AuthenticationState state)
    {
        if (state.Open || http.User.Identity?.IsAuthenticated != true)
            return null;
        var user = http.User;
        // An API key's identity is one object shared by all its requests and carries its partition name; a key's
        // identity copied by a claims transformation still names the key; a JWT's principal is new per request.
        if (user.Identity is ApiKeyIdentity key)
            return key.Partition;
        if (user.Identity?.AuthenticationType == ApiKeyAuthenticationHandler.SchemeName)
            return "key:" + user.FindFirstValue(ApiKeyAuthenticationHandler.KeyIdClaim);
        return "jwt:" + user.FindFirstValue("iss") + "|" + user.FindFirstValue("sub");
    }

    static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        int seconds = context.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)) : 1;
        http.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        string limit = http.GetEndpoint()?.Metadata.GetMetadata<EnableRateLimitingAttribute>()?.PolicyName == Jobs
            ? "job submissions per hour (FlowService:RateLimits:JobsPerHour)"
            : "inference requests per second (FlowService:RateLimits:InferenceRequestsPerSecond)";
        await http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails =
            {
                Status = StatusCodes.Status429TooManyRequests,
                Title = "Too many requests.",
                Detail = $"This API key is over its limit of {limit}; retry after {seconds} s.",
            },
        });
    }
}
