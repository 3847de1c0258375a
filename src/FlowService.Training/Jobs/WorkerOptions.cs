namespace FlowService.Training.Jobs;

/// <summary>The training worker, bound from <c>FlowService:Worker</c>.</summary>
public sealed class WorkerOptions
{
    public const string Section = "FlowService:Worker";

    /// <summary>Off: this process never trains (jobs wait in the queue for a worker elsewhere).</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Jobs trained at the same time by this process.</summary>
    public int Concurrency { get; set; } = 1;

    /// <summary>How often an idle worker looks for queued jobs.</summary>
    public int PollIntervalMilliseconds { get; set; } = 500;

    /// <summary>
    /// How long a claim holds a job without a heartbeat. A worker that dies is replaced this long after its
    /// last heartbeat: another worker claims the job and resumes it from its checkpoint.
    /// </summary>
    public double LeaseSeconds { get; set; } = 30;

    /// <summary>How often a running job renews its lease and looks for a cancellation request.</summary>
    public int HeartbeatMilliseconds { get; set; } = 1000;

    public TimeSpan Lease => TimeSpan.FromSeconds(Math.Max(1, LeaseSeconds));

    /// <summary>The heartbeat, kept to at most a third of the lease so that one late beat does not lose it.</summary>
    public TimeSpan Heartbeat => TimeSpan.FromMilliseconds(Math.Clamp(HeartbeatMilliseconds, 10, Lease.TotalMilliseconds / 3));
}
