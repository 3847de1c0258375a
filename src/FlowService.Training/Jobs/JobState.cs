namespace FlowService.Training.Jobs;

/// <summary>
/// A job's life: Queued → Running → Succeeded | Failed | Cancelled. A Running job whose worker died goes
/// back to the queue (embedded: at the next start; PostgreSQL: when its lease expires) and resumes from its
/// last training-state checkpoint.
/// </summary>
public enum JobState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}
