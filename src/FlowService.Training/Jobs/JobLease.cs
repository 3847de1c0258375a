using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace FlowService.Training.Jobs;

/// <summary>
/// A worker's hold on the job it runs. A heartbeat renews the lease in the store every
/// <see cref="WorkerOptions.HeartbeatMilliseconds"/>; <see cref="Token"/> is cancelled when someone asks to
/// cancel the job, when the store says the job is no longer this attempt's, when the store could not be
/// reached for nearly a whole lease (by then the lease may have expired and the job run elsewhere, so this
/// worker must stop first), or at shutdown.
/// </summary>
public sealed class JobLease : IAsyncDisposable
{
    readonly IJobStore _jobs;
    readonly ILogger _logger;
    readonly TimeSpan _duration;
    readonly TimeSpan _heartbeat;
    readonly TimeSpan _deadline;
    readonly CancellationTokenSource _cancel;
    readonly Task _heartbeatLoop;
    long _lastRenewed;
    volatile bool _lost;
    volatile bool _cancelRequested;

    public JobLease(IJobStore jobs, JobRecord job, WorkerOptions options, ILogger logger, CancellationToken stoppingToken)
    {
        _jobs = jobs;
        _logger = logger;
        JobId = job.Id;
        Attempt = job.Attempts;
        _duration = options.Lease;
        _heartbeat = options.Heartbeat;
        // The store's lease runs from the moment a renewal reached it; stopping one heartbeat early keeps the worker inside it.
        _deadline = _duration - _heartbeat > _duration / 2 ? _duration - _heartbeat : _duration / 2;
        _lastRenewed = Stopwatch.GetTimestamp();
        _cancelRequested = job.CancelRequested;
        _cancel = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        _heartbeatLoop = Task.Run(HeartbeatAsync, CancellationToken.None);
    }

    public string JobId { get; }

    /// <summary>The attempt this lease belongs to: the fencing token of every write about the job.</summary>
    public int Attempt { get; }

    /// <summary>Cancelled when training must stop (cancel requested, lease lost, or shutdown).</summary>
    public CancellationToken Token => _cancel.Token;

    public bool Lost => _lost;

    public bool CancelRequested => _cancelRequested;

    /// <summary>Called when a fenced write was refused: the job belongs to another attempt now.</summary>
    public JobLeaseLostException MarkLost()
    {
        _lost = true;
        _cancel.Cancel();
        return new JobLeaseLostException(JobId, Attempt);
    }

    /// <summary>Renews once, now; throws <see cref="JobLeaseLostException"/> unless the lease is still this worker's.</summary>
    public async Task EnsureHeldAsync()
    {
        if (_lost)
            throw new JobLeaseLostException(JobId, Attempt);
        long sent = Stopwatch.GetTimestamp();
        if (await _jobs.RenewLeaseAsync(JobId, Attempt, _duration, CancellationToken.None) == JobLeaseStatus.Lost)
            throw MarkLost();
        Interlocked.Exchange(ref _lastRenewed, sent);
    }

    async Task HeartbeatAsync()
    {
        try
        {
            while (!_cancel.IsCancellationRequested)
            {
                if (_cancelRequested)
                {
                    await _cancel.CancelAsync();
                    return;
                }
                await Task.Delay(_heartbeat, _cancel.Token);
                long sent = Stopwatch.GetTimestamp();
                try
                {
                    var status = await _jobs.RenewLeaseAsync(JobId, Attempt, _duration, _cancel.Token);
                    if (status == JobLeaseStatus.Lost)
                    {
                        _logger.LogWarning("Job {JobId} attempt {Attempt}: the lease is no longer this worker's; stopping without writing", JobId, Attempt);
                        MarkLost();
                        return;
                    }
                    Interlocked.Exchange(ref _lastRenewed, sent);
                    _cancelRequested = status == JobLeaseStatus.CancelRequested;
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    var since = Stopwatch.GetElapsedTime(Interlocked.Read(ref _lastRenewed));
                    if (since >= _deadline)
                    {
                        _logger.LogWarning(e, "Job {JobId} attempt {Attempt}: lease not renewed for {Seconds:F1} s; stopping, another worker may resume it",
                            JobId, Attempt, since.TotalSeconds);
                        MarkLost();
                        return;
                    }
                    _logger.LogWarning(e, "Job {JobId} attempt {Attempt}: lease renewal failed; retrying", JobId, Attempt);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync();
        await _heartbeatLoop;
        _cancel.Dispose();
    }
}
