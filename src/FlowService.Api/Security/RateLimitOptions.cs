namespace FlowService.Api.Security;

/// <summary>
/// Per-credential limits, bound from <c>FlowService:RateLimits</c>, applied with ASP.NET Core's rate limiter to each
/// API key (or token subject) separately; 0 turns a limit off. With authentication off there is no caller to tell
/// apart, so nothing is limited per caller (the inference admission cap still holds).
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "FlowService:RateLimits";

    /// <summary>/score, /encode, /decode and /sample requests per second per key (token bucket, refilled every second).</summary>
    public int InferenceRequestsPerSecond { get; set; } = 1000;

    /// <summary>Requests a key may send at once after a quiet spell; default twice the per-second rate.</summary>
    public int? InferenceBurst { get; set; }

    /// <summary>POST /jobs per key per hour (fixed window).</summary>
    public int JobsPerHour { get; set; } = 100;

    /// <summary>Jobs a key may have waiting in the queue at once; a submission beyond is a 429 until one starts or is cancelled.</summary>
    public int QueuedJobsPerKey { get; set; } = 20;
}
