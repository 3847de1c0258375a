using System.ComponentModel.DataAnnotations;

namespace FlowService.Api.Scoring;

/// <summary>
/// Inference settings, bound from <c>FlowService:Scoring</c> and validated when the host starts (a value out of range
/// stops the start with the setting's name, rather than being clamped where it is used).
/// </summary>
public sealed class ScoringOptions : IValidatableObject
{
    public const string Section = "FlowService:Scoring";

    /// <summary>Most model versions kept loaded; the least recently used one is dropped beyond it.</summary>
    [Range(1, 10_000)]
    public int ModelCacheSize { get; set; } = 8;

    /// <summary>Samples drawn per chunk when GET /sample streams a large n.</summary>
    [Range(1, 1_000_000)]
    public int SampleChunkRows { get; set; } = 4096;

    /// <summary>
    /// Dynamic batching: concurrent /score, /encode and /decode requests for one model version are merged
    /// into one engine batch. Off: every request runs on its own (for comparison, or for a latency floor).
    /// </summary>
    public bool BatchingEnabled { get; set; } = true;

    /// <summary>Rows per merged batch at most; a request with at least this many rows is a batch of its own.</summary>
    [Range(1, 1_000_000)]
    public int MaxBatchRows { get; set; } = 256;

    /// <summary>How long the oldest waiting request may be held back for more to join its batch, in microseconds.</summary>
    [Range(0, 10_000_000)]
    public int MaxQueueDelayMicroseconds { get; set; } = 1000;

    /// <summary>Rows waiting per model version and operation at most (at least <see cref="MaxBatchRows"/>); beyond it requests are refused with 503.</summary>
    [Range(1, int.MaxValue)]
    public int MaxQueuedRows { get; set; } = 16384;

    /// <summary>A request that waited this long in a batch queue is answered 503 instead of being computed late.</summary>
    [Range(1, 3_600_000)]
    public int MaxQueueWaitMilliseconds { get; set; } = 500;

    /// <summary>Inference requests in progress at most (parsing, queued, computing, writing); beyond it: 503 at once, before the body is read.</summary>
    [Range(1, 1_000_000)]
    public int MaxConcurrentRequests { get; set; } = 512;

    /// <summary>Largest /score, /encode or /decode body in bytes; a larger one is answered 413 before it is parsed.</summary>
    [Range(1, long.MaxValue)]
    public long MaxRequestBytes { get; set; } = 32L * 1024 * 1024;

    /// <summary>The Retry-After (seconds) sent with 503 answers to overload.</summary>
    [Range(1, 3600)]
    public int RetryAfterSeconds { get; set; } = 1;

    /// <summary>
    /// How long an alias or default-version lookup is reused before asking the registry again (changes made through
    /// this process apply at once). Unset: <see cref="EmbeddedResolutionCacheMilliseconds"/> with the embedded store,
    /// 0 with PostgreSQL, where other replicas move aliases and every request must see the database (and fail with
    /// 503 while it is down rather than serve from a stale lookup). 0 also checks an explicitly named version's row on
    /// every request, so a version deleted through another replica is not served from memory.
    /// </summary>
    [Range(0, 3_600_000)]
    public int? ResolutionCacheMilliseconds { get; set; }

    public const int EmbeddedResolutionCacheMilliseconds = 1000;

    /// <summary>Load and run every aliased model version once at start, before the service takes traffic.</summary>
    public bool WarmUpAliasedModels { get; set; } = true;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (MaxQueuedRows < MaxBatchRows)
            yield return new ValidationResult(
                $"MaxQueuedRows ({MaxQueuedRows}) must be at least MaxBatchRows ({MaxBatchRows}): a full batch has to fit in the queue.",
                [nameof(MaxQueuedRows)]);
    }
}
