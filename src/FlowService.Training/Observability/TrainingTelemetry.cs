using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace FlowService.Training.Observability;

/// <summary>
/// One call per point in a training job's life that both logs the event (with JobId and ModelName as structured
/// properties) and records its metrics, so the worker and trainer need a single line at each point.
/// Epoch lines are throttled per job to one per <see cref="EpochLogInterval"/> (a job may run 100,000 short epochs):
/// the first epoch and the last one always appear, the last one when the job ends if early stopping ended it; every
/// epoch still reaches the metrics and the job record.
/// </summary>
public sealed partial class TrainingTelemetry(TrainingMetrics metrics, ILogger<TrainingTelemetry> logger)
{
    sealed record EpochLine(string ModelName, int Epoch, int Epochs, double TrainNll, double ValidationNll, double SamplesPerSecond,
        double EpochSeconds, long LoggedAt, bool Logged);

    readonly ConcurrentDictionary<string, EpochLine> _lastEpoch = new(StringComparer.Ordinal);

    public TrainingMetrics Metrics => metrics;

    /// <summary>The least time between two logged epoch lines of one job.</summary>
    public TimeSpan EpochLogInterval { get; init; } = TimeSpan.FromSeconds(5);

    public void JobStarted(string jobId, string modelName, int epochs, int attempt)
    {
        metrics.JobStarted();
        LogJobStarted(logger, jobId, modelName, epochs, attempt);
    }

    public void EpochCompleted(string jobId, string modelName, int epoch, int epochs, double trainNll, double validationNll,
        double samplesPerSecond, double epochSeconds)
    {
        metrics.EpochCompleted(jobId, modelName, epochSeconds, trainNll, validationNll, samplesPerSecond);
        long now = Stopwatch.GetTimestamp();
        bool due = !_lastEpoch.TryGetValue(jobId, out var previous) || epoch >= epochs
            || Stopwatch.GetElapsedTime(previous.LoggedAt, now) >= EpochLogInterval;
        _lastEpoch[jobId] = new EpochLine(modelName, epoch, epochs, trainNll, validationNll, samplesPerSecond, epochSeconds,
            due ? now : previous!.LoggedAt, due);
        if (due)
            LogEpochCompleted(logger, jobId, modelName, epoch, epochs, trainNll, validationNll, samplesPerSecond, epochSeconds);
    }

    /// <summary>A job ended: its last epoch's line, if throttling held it back (early stopping, failure, cancellation).</summary>
    void LogLastEpoch(string jobId)
    {
        if (_lastEpoch.TryRemove(jobId, out var last) && !last.Logged)
            LogEpochCompleted(logger, jobId, last.ModelName, last.Epoch, last.Epochs, last.TrainNll, last.ValidationNll, last.SamplesPerSecond, last.EpochSeconds);
    }

    public void CheckpointWritten(string jobId, string modelName, int epoch, string path)
    {
        metrics.CheckpointWritten();
        LogCheckpointWritten(logger, jobId, modelName, epoch, path);
    }

    public void JobSucceeded(string jobId, string modelName, int modelVersion, double trainingSeconds)
    {
        metrics.JobSucceeded(jobId);
        LogLastEpoch(jobId);
        LogJobSucceeded(logger, jobId, modelName, modelVersion, trainingSeconds);
    }

    /// <summary>A failed job: <paramref name="reason"/> is what the job record says; <paramref name="error"/> the exception, when one caused it.</summary>
    public void JobFailed(string jobId, string modelName, string reason, Exception? error = null)
    {
        metrics.JobFailed(jobId);
        LogLastEpoch(jobId);
        LogJobFailed(logger, error, jobId, modelName, reason);
    }

    /// <summary>The trained flow's held-out NLL is no better than the full-covariance Gaussian's: the job succeeds, with a warning.</summary>
    public void FlowLosesToGaussian(string jobId, string modelName, string part, double flowNll, double gaussianNll) =>
        LogFlowLosesToGaussian(logger, jobId, modelName, part, flowNll, gaussianNll);

    public void JobCancelled(string jobId, string modelName, int epoch)
    {
        metrics.JobCancelled(jobId);
        LogLastEpoch(jobId);
        LogJobCancelled(logger, jobId, modelName, epoch);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information,
        Message = "Training job {JobId} started for model {ModelName}: {Epochs} epochs, attempt {Attempt}")]
    private static partial void LogJobStarted(ILogger logger, string jobId, string modelName, int epochs, int attempt);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information,
        Message = "Training job {JobId} ({ModelName}) epoch {Epoch}/{Epochs}: loss {TrainNll:F4}, val loss {ValidationNll:F4}, {SamplesPerSecond:F0} samples/s, {EpochSeconds:F3} s")]
    private static partial void LogEpochCompleted(ILogger logger, string jobId, string modelName, int epoch, int epochs,
        double trainNll, double validationNll, double samplesPerSecond, double epochSeconds);

    [LoggerMessage(EventId = 2003, Level = LogLevel.Information,
        Message = "Training job {JobId} ({ModelName}) wrote checkpoint for epoch {Epoch} to {CheckpointPath}")]
    private static partial void LogCheckpointWritten(ILogger logger, string jobId, string modelName, int epoch, string checkpointPath);

    [LoggerMessage(EventId = 2004, Level = LogLevel.Information,
        Message = "Training job {JobId} succeeded: model {ModelName} version {ModelVersion} after {TrainingSeconds:F2} s")]
    private static partial void LogJobSucceeded(ILogger logger, string jobId, string modelName, int modelVersion, double trainingSeconds);

    [LoggerMessage(EventId = 2005, Level = LogLevel.Error, Message = "Training job {JobId} ({ModelName}) failed: {Reason}")]
    private static partial void LogJobFailed(ILogger logger, Exception? error, string jobId, string modelName, string reason);

    [LoggerMessage(EventId = 2007, Level = LogLevel.Warning,
        Message = "Training job {JobId} ({ModelName}): the flow does not beat the full-covariance Gaussian on the {Part} rows ({FlowNll:F4} vs {GaussianNll:F4} nats per row)")]
    private static partial void LogFlowLosesToGaussian(ILogger logger, string jobId, string modelName, string part, double flowNll, double gaussianNll);

    [LoggerMessage(EventId = 2006, Level = LogLevel.Warning, Message = "Training job {JobId} ({ModelName}) cancelled at epoch {Epoch}")]
    private static partial void LogJobCancelled(ILogger logger, string jobId, string modelName, int epoch);
}
