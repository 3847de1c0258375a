namespace FlowService.Training.Jobs;

/// <summary>Whether this process's training worker loop is alive, for the readiness probe.</summary>
public sealed class WorkerStatus
{
    int _running;
    int _everStarted;
    long _lastBeatTicks;

    /// <summary>False when the process runs no worker (role "api" or worker disabled): readiness then does not wait for one.</summary>
    public bool Expected { get; set; }

    public bool IsRunning => Volatile.Read(ref _running) > 0;

    /// <summary>
    /// True until the first loop starts: the worker is still requeuing abandoned jobs (or waiting for the store to answer,
    /// which the storage check reports). The host answers HTTP before its background services reach their loops, so
    /// this is not a failure; a loop that started and then stopped is.
    /// </summary>
    public bool IsStarting => Volatile.Read(ref _everStarted) == 0;

    public DateTimeOffset LastHeartbeat => new(Interlocked.Read(ref _lastBeatTicks), TimeSpan.Zero);

    public void Started()
    {
        Interlocked.Increment(ref _running);
        Volatile.Write(ref _everStarted, 1);
    }

    public void Stopped() => Interlocked.Decrement(ref _running);

    public void Beat() => Interlocked.Exchange(ref _lastBeatTicks, DateTimeOffset.UtcNow.UtcTicks);
}
