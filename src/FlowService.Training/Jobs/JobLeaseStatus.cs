namespace FlowService.Training.Jobs;

/// <summary>What a worker learns when it renews the lease on the job it runs.</summary>
public enum JobLeaseStatus
{
    /// <summary>The lease is this worker's, extended; keep training.</summary>
    Held,

    /// <summary>The lease is this worker's, extended, and someone asked to cancel the job: stop and mark it cancelled.</summary>
    CancelRequested,

    /// <summary>The job is no longer this worker's (lease expired and another worker claimed it, or it ended): stop and write nothing.</summary>
    Lost,
}
