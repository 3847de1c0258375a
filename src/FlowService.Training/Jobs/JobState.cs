namespace FlowService.Training.Jobs;

/// <summary>
/// A job's life: Queued → Running → Succeeded | Failed | Cancelled. A Running job whose process died
/// goes back to Queued at the next start and resumes from its last training-state checkpoint.
/// </summary>
public enum JobState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}
