using System.Text.Json;
using FlowService.Model.Targets;
using FlowService.Training.Jobs;

namespace FlowService.Api.Contracts;

/// <summary>
/// A job as GET /jobs/{id} shows it: state, progress with per-epoch NLL, throughput, timing and outcome. A reverse-KL
/// fit has no dataset (<see cref="DatasetId"/> null) but its <see cref="Target"/>; its trainNll and validationNll are the
/// per-epoch reverse-KL estimates E_q[log q - log p̃] (training batches, fixed evaluation samples), and
/// <see cref="Importance"/> holds each epoch's effective sample size and log Ẑ with its standard error.
/// </summary>
public sealed record JobResponse(
    string Id,
    string Model,
    string? DatasetId,
    JobState State,
    int Epoch,
    int Epochs,
    IReadOnlyList<double> TrainNll,
    IReadOnlyList<double> ValidationNll,
    double? SamplesPerSecond,
    double ElapsedSeconds,
    double? EtaSeconds,
    string? Error,
    int? ModelVersion,
    bool CancelRequested,
    int Attempts,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? FinishedAt,
    JsonElement Flow,
    TrainingParameters Training,
    IReadOnlyList<string> ContextColumns,
    JsonElement? Target,
    IReadOnlyList<ImportanceStatistics?>? Importance,
    IReadOnlyList<string>? Warnings = null)
{
    /// <param name="warnings">The registered version's warnings (GET /jobs/{id} of a succeeded job), e.g. a flow that does not beat the Gaussian.</param>
    public static JobResponse From(JobRecord job, IReadOnlyList<string>? warnings)
    {
        var response = From(job);
        return warnings is { Count: > 0 } ? response with { Warnings = warnings } : response;
    }

    public static JobResponse From(JobRecord job)
    {
        double elapsed = job.StartedAt is { } started ? ((job.FinishedAt ?? DateTimeOffset.UtcNow) - started).TotalSeconds : 0;
        // Early stopping can end sooner; the estimate assumes every remaining epoch runs.
        double? eta = job.State switch
        {
            JobState.Running when job.History.Count > 0 => job.TrainingSeconds / job.History.Count * Math.Max(0, job.Epochs - job.Epoch),
            JobState.Succeeded or JobState.Failed or JobState.Cancelled => 0,
            _ => null,
        };
        return new JobResponse(
            job.Id, job.Request.Model, job.Request.IsTargetFit ? null : job.Request.DatasetId, job.State, job.Epoch, job.Epochs,
            job.History.Select(e => e.TrainNll).ToArray(), job.History.Select(e => e.ValidationNll).ToArray(),
            job.SamplesPerSecond, Math.Max(0, elapsed), eta, job.Error, job.ModelVersion, job.CancelRequested, job.Attempts,
            job.CreatedAt, job.StartedAt, job.FinishedAt, job.Request.Flow, job.Request.Training, job.Request.ContextColumns,
            job.Request.IsTargetFit ? job.Request.Target : null, job.Request.IsTargetFit ? job.History.Select(e => e.Importance).ToArray() : null);
    }
}
