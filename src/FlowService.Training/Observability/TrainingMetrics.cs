using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace FlowService.Training.Observability;

/// <summary>
/// Training instruments: jobs by state (a gauge refreshed from the job store at each scrape), jobs started /
/// succeeded / failed / cancelled, checkpoint writes, epoch duration, and the latest train/validation NLL and
/// throughput of each job running in this process. Prometheus names (after the exporter's unit and _total
/// suffixes): flowservice_training_jobs{state}, flowservice_training_jobs_started_total, …,
/// flowservice_training_epoch_duration_seconds, flowservice_training_train_nll{job,model}.
/// </summary>
public sealed class TrainingMetrics
{
    private static readonly double[] EpochBuckets = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

    private readonly Counter<long> started;
    private readonly Counter<long> succeeded;
    private readonly Counter<long> failed;
    private readonly Counter<long> cancelled;
    private readonly Counter<long> checkpoints;
    private readonly Histogram<double> epochDuration;
    private readonly ConcurrentDictionary<string, RunningJob> running = new(StringComparer.Ordinal);
    private volatile IReadOnlyDictionary<string, int> jobsByState = new Dictionary<string, int>();

    public TrainingMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(FlowServiceMeter.Name);
        started = meter.CreateCounter<long>("flowservice.training.jobs.started", "{jobs}", "Training jobs this process started (a resumed job counts again).");
        succeeded = meter.CreateCounter<long>("flowservice.training.jobs.succeeded", "{jobs}", "Training jobs that registered a model version.");
        failed = meter.CreateCounter<long>("flowservice.training.jobs.failed", "{jobs}", "Training jobs that ended in failure.");
        cancelled = meter.CreateCounter<long>("flowservice.training.jobs.cancelled", "{jobs}", "Training jobs cancelled while running.");
        checkpoints = meter.CreateCounter<long>("flowservice.training.checkpoints", "{checkpoints}", "Checkpoints written by training jobs.");
        epochDuration = meter.CreateHistogram<double>("flowservice.training.epoch.duration", "s", "Wall time of one training epoch.",
            tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = EpochBuckets });
        meter.CreateObservableGauge("flowservice.training.jobs", ObserveJobsByState, "{jobs}", "Training jobs in the store, by state.");
        meter.CreateObservableGauge("flowservice.training.train_nll", () => ObserveRunning(j => j.TrainNll), "{nats}", "Latest epoch's mean training NLL per row, per running job.");
        meter.CreateObservableGauge("flowservice.training.validation_nll", () => ObserveRunning(j => j.ValidationNll), "{nats}", "Latest epoch's validation NLL per row, per running job.");
        meter.CreateObservableGauge("flowservice.training.samples_per_second", () => ObserveRunning(j => j.SamplesPerSecond), "{samples}/s", "Latest epoch's training throughput, per running job.");

        // Unlabelled counters start at zero so that rate() and increase() have a series before the first job.
        started.Add(0);
        succeeded.Add(0);
        failed.Add(0);
        cancelled.Add(0);
        checkpoints.Add(0);
    }

    public void JobStarted() => started.Add(1);

    public void JobSucceeded(string jobId) { succeeded.Add(1); running.TryRemove(jobId, out _); }

    public void JobFailed(string jobId) { failed.Add(1); running.TryRemove(jobId, out _); }

    public void JobCancelled(string jobId) { cancelled.Add(1); running.TryRemove(jobId, out _); }

    public void CheckpointWritten() => checkpoints.Add(1);

    /// <summary>Records one finished epoch and makes its losses and throughput the job's current gauges.</summary>
    public void EpochCompleted(string jobId, string model, double epochSeconds, double trainNll, double validationNll, double samplesPerSecond)
    {
        epochDuration.Record(epochSeconds);
        running[jobId] = new RunningJob(model, trainNll, validationNll, samplesPerSecond);
    }

    /// <summary>
    /// Replaces the jobs-by-state snapshot (state name → count; the scrape hook reads it from the job store just
    /// before each scrape). States absent from <paramref name="counts"/> but seen before are reported as 0.
    /// </summary>
    public void SetJobCounts(IReadOnlyDictionary<string, int> counts)
    {
        var merged = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var state in jobsByState.Keys) merged[state] = 0;
        foreach (var (state, n) in counts) merged[state.ToLowerInvariant()] = n;
        jobsByState = merged;
    }

    private IEnumerable<Measurement<long>> ObserveJobsByState()
    {
        foreach (var (state, n) in jobsByState)
        {
            yield return new Measurement<long>(n, new KeyValuePair<string, object?>("state", state));
        }
    }

    private IEnumerable<Measurement<double>> ObserveRunning(Func<RunningJob, double> value)
    {
        foreach (var (jobId, job) in running)
        {
            yield return new Measurement<double>(value(job),
                new KeyValuePair<string, object?>("job", jobId), new KeyValuePair<string, object?>("model", job.Model));
        }
    }

    private sealed record RunningJob(string Model, double TrainNll, double ValidationNll, double SamplesPerSecond);
}
