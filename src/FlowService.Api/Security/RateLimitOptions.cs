using System.ComponentModel.DataAnnotations;

namespace FlowService.Api.Security;

/// <summary>
/// Per-credential limits, bound from <c>FlowService:RateLimits</c>, applied with ASP.NET Core's rate limiter to each
/// API key (or token subject) separately; 0 turns a limit off. With authentication off there is no caller to tell
/// apart, so nothing is limited per caller (the inference admission cap still holds). Validated at start.
/// </summary>
public sealed class RateLimitOptions
{
    public const string Section = "FlowService:RateLimits";

    /// <summary>/score, /encode, /decode and /sample requests per second per key (token bucket, refilled every second).</summary>
    [Range(0, 10_000_000)]
    public int InferenceRequestsPerSecond { get; set; } = 1000;

    /// <summary>Requests a key may send at once after a quiet spell; default twice the per-second rate.</summary>
    [Range(1, 100_000_000)]
    public int? InferenceBurst { get; set; }

    /// <summary>POST /jobs per key per hour (fixed window).</summary>
    [Range(0, 1_000_000)]
    public int JobsPerHour { get; set; } = 100;

    /// <summary>Jobs a key may have waiting in the queue at once; a submission beyond is a 429 until one starts or is cancelled.</summary>
    [Range(0, 100_000)]
    public int QueuedJobsPerKey { get; set; } = 20;

    /// <summary>
    /// Jobs a key may have running (training) at once across all workers; the workers leave its further jobs queued
    /// (they do not block other keys' jobs) until one of its running jobs ends. Enforced where jobs are claimed, not at
    /// submission, so a key at this limit can still queue up to <see cref="QueuedJobsPerKey"/>.
    /// </summary>
    [Range(0, 10_000)]
    public int RunningJobsPerKey { get; set; } = 2;
}
