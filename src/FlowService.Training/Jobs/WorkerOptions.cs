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
}
