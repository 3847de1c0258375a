using System.Diagnostics;
using FlowService.Model.Distributions;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Observability;
using FlowService.Training.Registry;
using FlowService.Training.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FlowService.Training.Jobs;

/// <summary>
/// Runs one job: loads and splits its dataset, trains with the engine for its spec (progress into the
/// job store every epoch, resumable state in the job's folder), then scores the best weights on every
/// split, calibrates anomaly thresholds on the validation rows, writes the checkpoint and only then
/// registers the version and completes the job. A job's own failure (bad data, divergence) fails the
/// job; a shutdown gives it back to the queue so that it resumes from its checkpoint on the next claim.
/// The job's <see cref="JobLease"/> is renewed while it runs; when the lease is lost (the job may already
/// run on another worker) the runner stops and writes nothing more about the job: no progress, no
/// version, no end state, and it leaves the resumable state in place for the worker that holds it now.
/// A job with a target instead of a dataset is a reverse-KL fit (<see cref="IReverseKlEngine"/>): same lease,
/// progress, checkpoint-then-register order; the version records the target and log Ẑ.
/// </summary>
public sealed class FlowJobRunner(
    IJobStore jobs, IDatasetStore datasets, IModelRegistry registry, FlowEngineCatalog engines, DataFolder folder,
    TrainingTelemetry telemetry, IOptions<WorkerOptions> options, ILogger<FlowJobRunner> logger) : IJobRunner
{
    public async Task RunAsync(JobRecord job, CancellationToken stoppingToken)
    {
        // A job is a trace of its own (the worker loop has no request to hang it under); epochs are its children.
        using var span = FlowServiceTracing.Source.StartActivity("training job", ActivityKind.Internal, parentContext: default);
        span?.SetTag("flowservice.job.id", job.Id);
        span?.SetTag("flowservice.model", job.Request.Model);
        span?.SetTag("flowservice.job.attempt", job.Attempts);
        await using var lease = new JobLease(jobs, job, options.Value, logger, stoppingToken);
        var request = job.Request;
        string stateFolder = folder.JobStateFolder(job.Id);
        try
        {
            await TrainAsync(job, lease, stateFolder);
        }
        catch (OperationCanceledException) when (lease.Lost)
        {
            logger.LogWarning("Job {JobId} attempt {Attempt} stopped: its lease was lost, so the worker holding it now finishes it", job.Id, job.Attempts);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            await ReleaseQuietly(lease);
            logger.LogInformation("Job {JobId} interrupted by shutdown; it resumes from its last checkpoint on the next claim", job.Id);
            throw;
        }
        catch (OperationCanceledException)
        {
            if (!await jobs.MarkCancelledAsync(job.Id, job.Attempts, CancellationToken.None))
                return;
            telemetry.JobCancelled(job.Id, request.Model, (await jobs.GetAsync(job.Id, CancellationToken.None))?.Epoch ?? 0);
            DeleteQuietly(stateFolder);
        }
        catch (Exception e) when (e is TrainingDivergedException or InvalidOperationException or ArgumentException or Model.Targets.TargetSpecException)
        {
            if (!await jobs.FailAsync(job.Id, job.Attempts, e.Message, CancellationToken.None))
                return;
            telemetry.JobFailed(job.Id, request.Model, e.Message, e);
            span?.SetStatus(ActivityStatusCode.Error, e.Message);
            DeleteQuietly(stateFolder);
        }
    }

    async Task TrainAsync(JobRecord job, JobLease lease, string stateFolder)
    {
        var request = job.Request;
        lease.Token.ThrowIfCancellationRequested();
        if (request.IsTargetFit)
        {
            await FitTargetAsync(job, lease, stateFolder);
            return;
        }
        var info = await datasets.GetAsync(request.DatasetId, lease.Token);
        var table = info is null ? null : await datasets.LoadAsync(request.DatasetId, lease.Token);
        if (info is null || table is null)
        {
            await FailAsync(lease, request.Model, $"Dataset '{request.DatasetId}' no longer exists.");
            return;
        }
        var engine = engines.Find(request.Flow);
        if (engine is null)
        {
            await FailAsync(lease, request.Model, "No engine in this process handles the job's flow type.");
            return;
        }
        telemetry.JobStarted(job.Id, request.Model, request.Training.Epochs, job.Attempts);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var p = request.Training;
        var split = DatasetSplit.Create(table, request.ContextColumns, p.ValidationFraction, p.TestFraction, p.Seed);
        var observer = new JobProgressObserver(jobs, lease, request.Model, p.Epochs, telemetry);
        var outcome = await Task.Run(() => engine.Train(new TrainingRun(request.Flow, split, p, stateFolder), observer, lease.Token), CancellationToken.None);
        var version = await RegisterAsync(job, lease, info, split, engine, outcome);
        if (!await jobs.CompleteAsync(job.Id, job.Attempts, version.Version, CancellationToken.None))
            throw lease.MarkLost();
        telemetry.JobSucceeded(job.Id, request.Model, version.Version, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        DeleteQuietly(stateFolder);
    }

    async Task FitTargetAsync(JobRecord job, JobLease lease, string stateFolder)
    {
        var request = job.Request;
        if (engines.Find(request.Flow) is not { } found || found is not IReverseKlEngine engine)
        {
            await FailAsync(lease, request.Model, "No engine in this process fits the job's flow type to a target.");
            return;
        }
        var target = request.Target!.Value;
        telemetry.JobStarted(job.Id, request.Model, request.Training.Epochs, job.Attempts);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        var observer = new JobProgressObserver(jobs, lease, request.Model, request.Training.Epochs, telemetry);
        var outcome = await Task.Run(() => engine.FitTarget(new TargetFitRun(request.Flow, target, request.Training, stateFolder), observer, lease.Token), CancellationToken.None);

        double entropy = -outcome.SampleLogDensity.Average(v => (double)v);
        var metrics = new ModelMetrics(entropy, entropy, null, outcome.EpochsRun, outcome.BestEpoch, outcome.Fit.Samples, outcome.Fit.Samples, 0, outcome.Fit);
        await lease.EnsureHeldAsync();
        string relative = DataFolder.CheckpointFolder(request.Model, job.Id, job.Attempts);
        string sha256 = found.Save(outcome.Flow, request.Flow, folder.Resolve(relative));
        telemetry.CheckpointWritten(job.Id, request.Model, outcome.EpochsRun, relative);
        var columns = Enumerable.Range(0, outcome.Flow.Features).Select(j => $"x{j}").ToArray();
        // The flow's own samples calibrate the anomaly quantiles: a point is unusual when q makes it rarer than its typical draws.
        var version = await registry.RegisterAsync(new NewModelVersion(
            request.Model, job.Id, "", "", columns, [], request.Flow, request.Training, metrics,
            AnomalyCalibration.FromValidationLogProb(outcome.SampleLogDensity), relative, sha256, target), CancellationToken.None);
        if (version.CheckpointFolder != relative)
            DeleteQuietly(folder.Resolve(relative));
        if (!await jobs.CompleteAsync(job.Id, job.Attempts, version.Version, CancellationToken.None))
            throw lease.MarkLost();
        telemetry.JobSucceeded(job.Id, request.Model, version.Version, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
        DeleteQuietly(stateFolder);
    }

    async Task FailAsync(JobLease lease, string model, string reason)
    {
        if (!await jobs.FailAsync(lease.JobId, lease.Attempt, reason, CancellationToken.None))
            throw lease.MarkLost();
        telemetry.JobFailed(lease.JobId, model, reason);
    }

    async Task<ModelVersion> RegisterAsync(JobRecord job, JobLease lease, DatasetInfo info, DatasetSplit split, IFlowEngine engine, TrainingOutcome outcome)
    {
        var request = job.Request;
        // A cross-validated "auto" winner is served as its fold models, which together saw every row: each part's figures are
        // then its out-of-fold scores.
        var cv = outcome.CrossValidated;
        int validationStart = split.Train.Rows, testStart = split.Train.Rows + split.Validation.Rows;
        var validationLogProb = cv?.Part(validationStart, split.Validation.Rows) ?? LogProb(outcome.Flow, split.Validation);
        double validationNll = MeanNll(validationLogProb);
        double? testNll = split.Test.Rows > 0 ? MeanNll(cv?.Part(testStart, split.Test.Rows) ?? LogProb(outcome.Flow, split.Test)) : null;
        double? crossValidatedNll = cv is null ? null : MeanNll(cv.LogProb);
        // The baseline every flow must beat: the full-covariance Gaussian of the same training rows (tables; an image's
        // hundreds of dequantized pixels are another problem, and its d² covariance too costly to be worth it).
        double? gaussianValidation = null, gaussianTest = null, gaussianCrossValidated = null;
        var warnings = new List<string>();
        if (split.FeatureColumns.Count <= MaxGaussianBaselineFeatures)
        {
            if (cv?.GaussianLogProb is { } gaussianOutOfFold)
            {
                gaussianValidation = MeanNll(gaussianOutOfFold.AsSpan(validationStart, split.Validation.Rows));
                gaussianTest = split.Test.Rows > 0 ? MeanNll(gaussianOutOfFold.AsSpan(testStart, split.Test.Rows)) : null;
                gaussianCrossValidated = MeanNll(gaussianOutOfFold);
            }
            else
            {
                // The served density's defensive component is this very fit (same rows, same ridge): no second pass over them.
                var gaussian = (outcome.Flow as TrainedFlow)?.Defensive?.Component as FullCovarianceGaussian ?? FullCovarianceGaussian.Fit(split.Train.Features, split.FeatureColumns.Count);
                gaussianValidation = GaussianNll(gaussian, split.Validation);
                gaussianTest = split.Test.Rows > 0 ? GaussianNll(gaussian, split.Test) : null;
            }
            var (flowHeldOut, gaussianHeldOut, part) = crossValidatedNll is { } c && gaussianCrossValidated is { } gc ? (c, gc, "out-of-fold")
                : testNll is { } t && gaussianTest is { } g ? (t, g, "test") : (validationNll, gaussianValidation.Value, "validation");
            if (!(flowHeldOut < gaussianHeldOut))
            {
                warnings.Add($"The flow does not beat the full-covariance Gaussian on the {part} rows ({flowHeldOut:F4} vs {gaussianHeldOut:F4} nats per row): " +
                    "more rows, more epochs or the \"auto\" flow may help; the Gaussian itself is {\"type\": \"gaussian\"}.");
                telemetry.FlowLosesToGaussian(job.Id, request.Model, part, flowHeldOut, gaussianHeldOut);
            }
        }
        var metrics = new ModelMetrics(
            MeanNll(LogProb(outcome.Flow, split.Train)), validationNll, testNll,
            outcome.EpochsRun, outcome.BestEpoch, split.Train.Rows, split.Validation.Rows, split.Test.Rows, null,
            gaussianValidation, gaussianTest, (outcome.Flow as TrainedFlow)?.Defensive?.Weight, outcome.Selection,
            warnings.Count > 0 ? warnings : null, crossValidatedNll, gaussianCrossValidated,
            cv is null ? null : $"{cv.Folds}-fold cross-validation: the served density is the mean of the chosen candidate's {cv.Folds} fold models, " +
                $"which together trained on all {cv.LogProb.Length} rows (training, validation and test parts), each on all but its fold; " +
                "validationNll, testNll, crossValidatedNll (all rows) and their Gaussian figures are out-of-fold scores. /encode and /decode use the first fold's model.",
            outcome.Flow is TrainedFlow { Members.Count: > 1 } committee ? committee.Members.Count : null);
        await lease.EnsureHeldAsync();
        string relative = DataFolder.CheckpointFolder(request.Model, job.Id, job.Attempts);
        // The checkpoint is durable before the registry row exists, so no version points at a partial file.
        string sha256 = engine.Save(outcome.Flow, request.Flow, folder.Resolve(relative));
        telemetry.CheckpointWritten(job.Id, request.Model, outcome.EpochsRun, relative);
        var version = await registry.RegisterAsync(new NewModelVersion(
            request.Model, job.Id, info.Id, info.Sha256, split.FeatureColumns, split.ContextColumns, request.Flow, request.Training,
            metrics, AnomalyCalibration.FromValidationLogProb(cv?.LogProb ?? validationLogProb), relative, sha256), CancellationToken.None);
        // Registration is idempotent per job: an earlier attempt that finished after losing its lease may have
        // registered first; its version stands (one version per job) and this attempt's copy goes.
        if (version.CheckpointFolder != relative)
            DeleteQuietly(folder.Resolve(relative));
        return version;
    }

    static float[] LogProb(IDensityFlow flow, DatasetSplit.Part part)
    {
        var logProb = new float[part.Rows];
        flow.LogProb(part.Features, part.Rows, part.Context, logProb);
        return logProb;
    }

    static double MeanNll(float[] logProb) => logProb.Length == 0 ? double.NaN : -logProb.Average(v => (double)v);

    static double MeanNll(ReadOnlySpan<double> logProb)
    {
        double sum = 0;
        foreach (double v in logProb)
            sum += v;
        return logProb.IsEmpty ? double.NaN : -sum / logProb.Length;
    }

    /// <summary>Feature columns up to which a version's metrics include the full-covariance Gaussian's NLL (the dataset column limit).</summary>
    const int MaxGaussianBaselineFeatures = 512;

    static double GaussianNll(FullCovarianceGaussian gaussian, DatasetSplit.Part part)
    {
        var logProb = new double[part.Rows];
        gaussian.LogDensity(part.Features, part.Rows, logProb);
        return part.Rows == 0 ? double.NaN : -logProb.Average();
    }

    async Task ReleaseQuietly(JobLease lease)
    {
        try
        {
            await jobs.ReleaseAsync(lease.JobId, lease.Attempt, CancellationToken.None);
        }
        catch (Exception e)
        {
            logger.LogWarning(e, "Could not give job {JobId} back to the queue; it is claimable again when its lease expires", lease.JobId);
        }
    }

    void DeleteQuietly(string path)
    {
        try
        {
            if (Directory.Exists(path))
                Directory.Delete(path, recursive: true);
        }
        catch (IOException e)
        {
            logger.LogWarning(e, "Could not remove training state {Path}", path);
        }
    }
}
