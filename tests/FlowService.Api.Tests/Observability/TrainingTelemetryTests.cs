using FlowService.Training.Observability;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace FlowService.Api.Tests.Observability;

/// <summary>A job's life through <see cref="TrainingTelemetry"/>: Serilog events with JobId and ModelName, and the training families.</summary>
public sealed class TrainingTelemetryTests
{
    [Fact]
    public async Task Job_lifecycle_logs_structured_events_and_moves_the_training_metrics()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var sink = new CapturingSink();
        using var serilog = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();
        using Microsoft.Extensions.Logging.ILoggerFactory loggerFactory = new SerilogLoggerFactory(serilog);
        var telemetry = new TrainingTelemetry(new TrainingMetrics(registry), Microsoft.Extensions.Logging.LoggerFactoryExtensions.CreateLogger<TrainingTelemetry>(loggerFactory));

        telemetry.JobStarted("job-7", "moons", epochs: 2, attempt: 1);
        telemetry.EpochCompleted("job-7", "moons", 1, 2, trainNll: 1.5, validationNll: 1.6, samplesPerSecond: 20000, epochSeconds: 0.02);
        var during = await RegistryText.ScrapeAsync(registry);
        telemetry.EpochCompleted("job-7", "moons", 2, 2, trainNll: 1.25, validationNll: 1.375, samplesPerSecond: 21000, epochSeconds: 0.03);
        telemetry.CheckpointWritten("job-7", "moons", 2, "checkpoints/moons/job-7");
        telemetry.JobSucceeded("job-7", "moons", modelVersion: 1, trainingSeconds: 0.05);
        telemetry.JobFailed("job-8", "moons", "Training diverged", new InvalidOperationException("nan"));
        var after = await RegistryText.ScrapeAsync(registry);

        Assert.Equal(6, sink.Events.Count);
        Assert.All(sink.Events, e => Assert.Equal("moons", CapturingSink.Scalar(e, "ModelName")));
        Assert.Equal("job-7,job-7,job-7,job-7,job-7,job-8", string.Join(",", sink.Events.Select(e => CapturingSink.Scalar(e, "JobId"))));
        var epoch = sink.Events[2];
        Assert.Equal("1.25", CapturingSink.Scalar(epoch, "TrainNll"));
        Assert.Equal("1.375", CapturingSink.Scalar(epoch, "ValidationNll"));
        Assert.Equal("21000", CapturingSink.Scalar(epoch, "SamplesPerSecond"));
        Assert.Equal("checkpoints/moons/job-7", CapturingSink.Scalar(sink.Events[3], "CheckpointPath"));
        Assert.Equal(LogEventLevel.Error, sink.Events[5].Level);
        Assert.IsType<InvalidOperationException>(sink.Events[5].Exception);

        Assert.Contains("flowservice_training_validation_nll{job=\"job-7\",model=\"moons\"} 1.6\n", during);
        Assert.DoesNotContain("job=\"job-7\"", after);
        Assert.Contains("flowservice_training_jobs_started_total 1\n", after);
        Assert.Contains("flowservice_training_jobs_succeeded_total 1\n", after);
        Assert.Contains("flowservice_training_jobs_failed_total 1\n", after);
        Assert.Contains("flowservice_training_checkpoints_total 1\n", after);
        Assert.Contains("flowservice_training_epoch_duration_seconds_count 2\n", after);
        Assert.Contains("flowservice_training_epoch_duration_seconds_sum 0.05\n", after);
    }

    [Fact]
    public void Epoch_lines_are_throttled_per_job_but_the_first_and_the_last_epoch_always_appear()
    {
        var sink = new CapturingSink();
        using var serilog = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();
        using Microsoft.Extensions.Logging.ILoggerFactory loggerFactory = new SerilogLoggerFactory(serilog);
        var telemetry = new TrainingTelemetry(new TrainingMetrics(Prometheus.Metrics.NewCustomRegistry()),
            Microsoft.Extensions.Logging.LoggerFactoryExtensions.CreateLogger<TrainingTelemetry>(loggerFactory)) { EpochLogInterval = TimeSpan.FromHours(1) };

        // Runs to its last epoch: epochs 1 and 10,000 only.
        for (int epoch = 1; epoch <= 10_000; epoch++)
            telemetry.EpochCompleted("full", "m", epoch, 10_000, 1.0 / epoch, 1.0, 1000, 0.001);
        telemetry.JobSucceeded("full", "m", 1, 10);
        // Early stopping at epoch 37 of 100 000: epoch 37 is logged when the job ends.
        for (int epoch = 1; epoch <= 37; epoch++)
            telemetry.EpochCompleted("early", "m", epoch, 100_000, 1.0 / epoch, 1.0, 1000, 0.001);
        telemetry.JobSucceeded("early", "m", 2, 1);
        // A failure after throttled epochs: its last epoch too.
        for (int epoch = 1; epoch <= 5; epoch++)
            telemetry.EpochCompleted("failed", "m", epoch, 50, 1.0, 1.0, 1000, 0.001);
        telemetry.JobFailed("failed", "m", "diverged");

        string Epochs(string job) => string.Join(",", sink.Events.Where(e => CapturingSink.Scalar(e, "JobId") == job && e.Properties.ContainsKey("Epoch") && e.Properties.ContainsKey("TrainNll"))
            .Select(e => CapturingSink.Scalar(e, "Epoch")));
        Assert.Equal("1,10000", Epochs("full"));
        Assert.Equal("1,37", Epochs("early"));
        Assert.Equal("1,5", Epochs("failed"));
        Assert.Equal(3 + 3 + 3, sink.Events.Count);
    }
}
