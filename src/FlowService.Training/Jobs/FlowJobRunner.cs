using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Observability;
using FlowService.Training.Registry;
using FlowService.Training.Storage;
using Microsoft.Extensions.Logging;

namespace FlowService.Training.Jobs;

/// <summary>
/// Runs one job: loads and splits its dataset, trains with the engine for its spec (progress into the
/// job store every epoch, resumable state in the job's folder), then scores the best weights on every
/// split, calibrates anomaly thresholds on the validation rows, writes the checkpoint and only then
/// registers the version and completes the job. A job's own failure (bad data, divergence) fails the
/// job; a shutdown leaves it Running so that it resumes at the next start.
/// </summary>
public sealed class FlowJobRunner(
    IJobStore jobs, IDatasetStore datasets, IModelRegistry registry, FlowEngineCatalog engines, DataFolder folder,
    TrainingTelemetry telemetry, ILogger<FlowJobRunner> logger) : IJobRunner
{
    public async Task RunAsync(JobRecord job, CancellationToken stoppingToken)
    {
        var request = job.Request;
        var info = await datasets.GetAsync(request.DatasetId, stoppingToken);
        var table = info is null ? null : await datasets.LoadAsync(request.DatasetId, stoppingToken);
        if (info is null || table is null)
        {
            string reason = $"Dataset '{request.DatasetId}' no longer exists.";
            await jobs.FailAsync(job.Id, reason, CancellationToken.None);
            telemetry.JobFailed(job.Id, request.Model, reason);
            return;
        }
        var engine = engines.Find(request.Flow);
        if (engine is null)
        {
            const string reason = "No engine in this process handles the job's flow type.";
            await jobs.FailAsync(job.Id, reason, CancellationToken.None);
            telemetry.JobFailed(job.Id, request.Model, reason);
            return;
        }
        string stateFolder = folder.JobStateFolder(job.Id);
        telemetry.JobStarted(job.Id, request.Model, request.Training.Epochs, job.Attempts);
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var watch = WatchForCancellationAsync(job.Id, cancel);
        try
        {
            var p = request.Training;
            var split = DatasetSplit.Create(table, request.ContextColumns, p.ValidationFraction, p.TestFraction, p.Seed);
            var observer = new JobProgressObserver(jobs, job.Id, request.Model, p.Epochs, telemetry);
            var outcome = await Task.Run(() => engine.Train(new TrainingRun(request.Flow, split, p, stateFolder), observer, cancel.Token), CancellationToken.None);
            var version = await RegisterAsync(job, info, split, engine, outcome);
            await jobs.CompleteAsync(job.Id, version.Version, CancellationToken.None);
            telemetry.JobSucceeded(job.Id, request.Model, version.Version, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
            DeleteQuietly(stateFolder);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            logger.LogInformation("Job {JobId} interrupted by shutdown; it resumes from its last checkpoint at the next start", job.Id);
            throw;
        }
        catch (OperationCanceledException)
        {
            await jobs.MarkCancelledAsync(job.Id, CancellationToken.None);
            telemetry.JobCancelled(job.Id, request.Model, (await jobs.GetAsync(job.Id, CancellationToken.None))?.Epoch ?? 0);
            DeleteQuietly(stateFolder);
        }
        catch (Exception e) when (e is TrainingDivergedException or InvalidOperationException or ArgumentException)
        {
            await jobs.FailAsync(job.Id, e.Message, CancellationToken.None);
            telemetry.JobFailed(job.Id, request.Model, e.Message, e);
            DeleteQuietly(stateFolder);
        }
        finally
        {
            await cancel.CancelAsync();
            await watch;
        }
    }

    async Task<ModelVersion> RegisterAsync(JobRecord job, DatasetInfo info, DatasetSplit split, IFlowEngine engine, TrainingOutcome outcome)
    {
        var request = job.Request;
        var validationLogProb = LogProb(outcome.Flow, split.Validation);
        var metrics = new ModelMetrics(
            MeanNll(LogProb(outcome.Flow, split.Train)), MeanNll(validationLogProb),
            split.Test.Rows > 0 ? MeanNll(LogProb(outcome.Flow, split.Test)) : null,
            outcome.EpochsRun, outcome.BestEpoch, split.Train.Rows, split.Validation.Rows, split.Test.Rows);
        string relative = DataFolder.CheckpointFolder(request.Model, job.Id);
        // The checkpoint is durable before the registry row exists, so no version points at a partial file.
        string sha256 = engine.Save(outcome.Flow, request.Flow, folder.Resolve(relative));
        telemetry.CheckpointWritten(job.Id, request.Model, outcome.EpochsRun, relative);
        return await registry.RegisterAsync(new NewModelVersion(
            request.Model, job.Id, info.Id, info.Sha256, split.FeatureColumns, split.ContextColumns, request.Flow, request.Training,
            metrics, AnomalyCalibration.FromValidationLogProb(validationLogProb), relative, sha256), CancellationToken.None);
    }

    static float[] LogProb(IDensityFlow flow, DatasetSplit.Part part)
    {
        var logProb = new float[part.Rows];
        flow.LogProb(part.Features, part.Rows, part.Context, logProb);
        return logProb;
    }

    static double MeanNll(float[] logProb) => logProb.Length == 0 ? double.NaN : -logProb.Average(v => (double)v);

    /// <summary>Cancellation is a flag in the store (any process may set it); polled while the job trains.</summary>
    async Task WatchForCancellationAsync(string jobId, CancellationTokenSource cancel)
    {
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                await Task.Delay(200, cancel.Token);
                if (await jobs.IsCancelRequestedAsync(jobId, cancel.Token))
                    await cancel.CancelAsync();
            }
        }
        catch (OperationCanceledException)
        {
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
