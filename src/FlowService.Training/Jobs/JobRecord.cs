namespace FlowService.Training.Jobs;

/// <summary>A job as stored: its request, where it is in its life, and its per-epoch history.</summary>
public sealed record JobRecord(
    string Id,
    JobRequest Request,
    JobState State,
    int Epoch,
    int Epochs,
    double? SamplesPerSecond,
    string? Error,
    int? ModelVersion,
    bool CancelRequested,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    double TrainingSeconds,
    IReadOnlyList<EpochRecord> History)
{
    public bool IsFinished => State is JobState.Succeeded or JobState.Failed or JobState.Cancelled;
}
