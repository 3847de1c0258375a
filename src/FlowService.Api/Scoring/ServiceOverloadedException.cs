namespace FlowService.Api.Scoring;

/// <summary>The request was refused for lack of capacity; answered 503 with Retry-After, never computed late.</summary>
public sealed class ServiceOverloadedException(OverloadReason reason, string message) : Exception(message)
{
    public OverloadReason Reason { get; } = reason;
}
