namespace FlowService.Api.Scoring;

/// <summary>Why an inference request was refused for lack of capacity (the metric label of the refusal).</summary>
public enum OverloadReason
{
    /// <summary>More inference requests in progress than <c>MaxConcurrentRequests</c>.</summary>
    Concurrency,

    /// <summary>The model version's batch queue already holds <c>MaxQueuedRows</c> rows.</summary>
    QueueFull,

    /// <summary>The request waited longer than <c>MaxQueueWaitMilliseconds</c> for its batch.</summary>
    QueueTimeout,
}
