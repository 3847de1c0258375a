namespace FlowService.Training.Jobs;

/// <summary>Whether this process's training worker loop is alive, for the readiness probe.</summary>
public sealed class WorkerStatus
{
    int _running;
    long _lastBeatTicks;

    /// <summary>False when the process runs no worker (role "api" or worker disabled): readiness then does not wait for one.</summary>
    public bool Expected { get; set; }

    public bool IsRunning => Volatile.Read(ref _running) > 0;

    public DateTimeOffset LastHeartbeat => new(Interlocked.Read(ref _lastBeatTicks), TimeSpan.Zero);

    public void Started() => Interlocked.Increment(ref _running);

    public void Stopped() => Interlocked.Decrement(ref _running);

    public void Beat() => Interlocked.Exchange(ref _lastBeatTicks, DateTimeOffset.UtcNow.UtcTicks);
}
