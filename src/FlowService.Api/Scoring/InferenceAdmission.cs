namespace FlowService.Api.Scoring;

/// <summary>
/// Counts inference requests in progress and refuses one past <see cref="ScoringOptions.MaxConcurrentRequests"/>
/// before its body is read, so that under overload memory stays bounded and refusals are immediate.
/// </summary>
public sealed class InferenceAdmission(Microsoft.Extensions.Options.IOptions<ScoringOptions> options)
{
    readonly int _limit = options.Value.MaxConcurrentRequests;
    int _inFlight;

    public int InFlight => Volatile.Read(ref _inFlight);

    public int Limit => _limit;

    /// <summary>A lease to dispose when the request ends, or null when the service is at capacity.</summary>
    public Lease? TryEnter()
    {
        if (Interlocked.Increment(ref _inFlight) > _limit)
        {
            Interlocked.Decrement(ref _inFlight);
            return null;
        }
        return new Lease(this);
    }

    public sealed class Lease(InferenceAdmission owner) : IDisposable
    {
        int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
                Interlocked.Decrement(ref owner._inFlight);
        }
    }
}
