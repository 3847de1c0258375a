using System.ComponentModel.DataAnnotations;

namespace FlowService.Training.Jobs;

/// <summary>The training worker, bound from <c>FlowService:Worker</c>; validated when the host starts.</summary>
public sealed class WorkerOptions : IValidatableObject
{
    public const string Section = "FlowService:Worker";

    /// <summary>Off: this process never trains (jobs wait in the queue for a worker elsewhere).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Jobs trained at the same time by this process.</summary>
    [Range(1, 64)]
    public int Concurrency { get; set; } = 1;

    /// <summary>How often an idle worker looks for queued jobs.</summary>
    [Range(10, 3_600_000)]
    public int PollIntervalMilliseconds { get; set; } = 500;

    /// <summary>
    /// How long a claim holds a job without a heartbeat. A worker that dies is replaced this long after its
    /// last heartbeat: another worker claims the job and resumes it from its checkpoint.
    /// </summary>
    [Range(1.0, 86_400.0)]
    public double LeaseSeconds { get; set; } = 30;

    /// <summary>How often a running job renews its lease and looks for a cancellation request; at most a third of the lease.</summary>
    [Range(10, int.MaxValue)]
    public int HeartbeatMilliseconds { get; set; } = 1000;

    /// <summary>
    /// Jobs of one credential (<see cref="JobRequest.Owner"/>) that may run at once across every worker sharing the store;
    /// a claim passes over a job whose owner is at this count, so other credentials' jobs are trained meanwhile. 0: no
    /// limit. The host sets it from <c>FlowService:RateLimits:RunningJobsPerKey</c>, beside the other per-key limits.
    /// </summary>
    [Range(0, 10_000)]
    public int RunningJobsPerOwner { get; set; }

    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);

    public TimeSpan Heartbeat => TimeSpan.FromMilliseconds(HeartbeatMilliseconds);

    /// <summary>One late beat must not lose the lease: at least three beats fit in it.</summary>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (HeartbeatMilliseconds * 3.0 > LeaseSeconds * 1000)
            yield return new ValidationResult(
                $"HeartbeatMilliseconds ({HeartbeatMilliseconds}) must be at most a third of LeaseSeconds ({LeaseSeconds} s), so one late heartbeat does not lose the lease.",
                [nameof(HeartbeatMilliseconds)]);
    }
}
