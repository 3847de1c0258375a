namespace FlowService.Training.Jobs;

/// <summary>
/// The worker no longer holds the job's lease (it expired while the worker was slow or cut off from
/// the database, and the job may already run elsewhere). A cancellation, so that training stops at its
/// next batch; the runner then writes nothing about the job and leaves its resumable state in place.
/// </summary>
public sealed class JobLeaseLostException(string jobId, int attempt)
    : OperationCanceledException($"Job {jobId} (attempt {attempt}) is no longer leased to this worker.")
{
    public string JobId { get; } = jobId;

    public int Attempt { get; } = attempt;
}
