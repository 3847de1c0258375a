namespace FlowService.Training.Jobs;

/// <summary>
/// The durable job queue. Implemented by <see cref="SqliteJobStore"/> (embedded, one process) and
/// <see cref="PostgresJobStore"/> (many workers: row locks and leases).
/// A claim hands a worker a lease on the job; the claimed record's <see cref="JobRecord.Attempts"/> is
/// the lease's fencing token. Every write a worker makes about its job names that attempt and is
/// refused (false) once the job is no longer running under it, so a worker that lost its lease can
/// never record progress, complete, fail or cancel a job that another worker now holds.
/// </summary>
public interface IJobStore
{
    Task<JobRecord> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default);

    Task<JobRecord?> GetAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>Jobs newest first, optionally only those in <paramref name="state"/>.</summary>
    Task<IReadOnlyList<JobRecord>> ListAsync(JobState? state = null, int limit = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Atomically moves the oldest claimable job (queued, or running under an expired lease) to Running for
    /// <paramref name="workerId"/> with a lease of <paramref name="lease"/> and the next attempt number; null when none waits.
    /// With <paramref name="runningPerOwner"/> above 0, a job whose <see cref="JobRequest.Owner"/> already has that many
    /// jobs running (under a live lease) is passed over, so one credential cannot take every worker; jobs without an
    /// owner (authentication off) are never passed over.
    /// </summary>
    Task<JobRecord?> TryClaimAsync(string workerId, TimeSpan lease, int runningPerOwner = 0, CancellationToken cancellationToken = default);

    /// <summary>The heartbeat: extends the lease of <paramref name="attempt"/> by <paramref name="lease"/> and says whether cancellation was asked.</summary>
    Task<JobLeaseStatus> RenewLeaseAsync(string id, int attempt, TimeSpan lease, CancellationToken cancellationToken = default);

    /// <summary>Gives a running job back to the queue (a worker shutting down); it resumes from its checkpoint on the next claim.</summary>
    Task<bool> ReleaseAsync(string id, int attempt, CancellationToken cancellationToken = default);

    /// <summary>Records a finished epoch (replacing an earlier record of the same epoch, as a resumed job may repeat it).</summary>
    Task<bool> RecordEpochAsync(string id, int attempt, EpochRecord epoch, CancellationToken cancellationToken = default);

    /// <summary>Forgets history after <paramref name="lastEpoch"/>: a resumed job restarts from its checkpoint's epoch.</summary>
    Task<bool> TruncateHistoryAsync(string id, int attempt, int lastEpoch, CancellationToken cancellationToken = default);

    Task<bool> CompleteAsync(string id, int attempt, int modelVersion, CancellationToken cancellationToken = default);

    Task<bool> FailAsync(string id, int attempt, string error, CancellationToken cancellationToken = default);

    Task<bool> MarkCancelledAsync(string id, int attempt, CancellationToken cancellationToken = default);

    /// <summary>
    /// Cancels a queued job (or one whose worker's lease expired) at once, flags a running one for its
    /// worker; the job as it is now, or null when unknown.
    /// </summary>
    Task<JobRecord?> RequestCancelAsync(string id, CancellationToken cancellationToken = default);

    Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts Running jobs not held by a live worker back in the queue: embedded mode, every Running job (one
    /// process, called at its start); PostgreSQL, those whose lease expired.
    /// </summary>
    Task<int> RequeueAbandonedAsync(CancellationToken cancellationToken = default);

    /// <summary>True while a queued or running job trains on the dataset.</summary>
    Task<bool> HasActiveJobsForDatasetAsync(string datasetId, CancellationToken cancellationToken = default);

    Task<IReadOnlyDictionary<JobState, int>> CountByStateAsync(CancellationToken cancellationToken = default);
}
