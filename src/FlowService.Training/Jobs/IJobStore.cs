namespace FlowService.Training.Jobs;

/// <summary>
/// The durable job queue. Implemented by <see cref="SqliteJobStore"/> (embedded, one process); a
/// PostgreSQL store implements the same contract with row locks and leases.
/// </summary>
public interface IJobStore
{
    Task<JobRecord> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default);

    Task<JobRecord?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Jobs newest first, optionally only those in <paramref name="state"/>.</summary>
    Task<IReadOnlyList<JobRecord>> ListAsync(JobState? state = null, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>Atomically moves the oldest queued job to Running for <paramref name="workerId"/>; null when none waits.</summary>
    Task<JobRecord?> TryClaimAsync(string workerId, CancellationToken cancellationToken = default);

    /// <summary>Records a finished epoch (replacing an earlier record of the same epoch, as a resumed job may repeat it).</summary>
    Task RecordEpochAsync(string id, EpochRecord epoch, CancellationToken cancellationToken = default);

    /// <summary>Forgets history after <paramref name="lastEpoch"/>: a resumed job restarts from its checkpoint's epoch.</summary>
    Task TruncateHistoryAsync(string id, int lastEpoch, CancellationToken cancellationToken = default);

    Task CompleteAsync(string id, int modelVersion, CancellationToken cancellationToken = default);

    Task FailAsync(string id, string error, CancellationToken cancellationToken = default);

    Task MarkCancelledAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Cancels a queued job at once, flags a running one for its worker; the job as it is now, or null when unknown.</summary>
    Task<JobRecord?> RequestCancelAsync(string id, CancellationToken cancellationToken = default);

    Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Puts Running jobs not held by a live worker back in the queue (embedded mode: every Running job at start).</summary>
    Task<int> RequeueAbandonedAsync(CancellationToken cancellationToken = default);

    /// <summary>True while a queued or running job trains on the dataset.</summary>
    Task<bool> HasActiveJobsForDatasetAsync(string datasetId, CancellationToken cancellationToken = default);

    Task<IReadOnlyDictionary<JobState, int>> CountByStateAsync(CancellationToken cancellationToken = default);
}
