using FlowService.Api.Health;
using FlowService.Training.Jobs;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FlowService.Api.Tests.Health;

/// <summary>
/// The readiness check of the training worker: a process without one is ready; one whose worker has not reached its
/// loops yet is ready (the host answers HTTP before background services start, and a first probe must not fail on
/// that); one whose loops all stopped is not.
/// </summary>
public sealed class WorkerHealthCheckTests
{
    static async Task<HealthCheckResult> Check(WorkerStatus status)
    {
        var registration = new HealthCheckRegistration("worker", new WorkerHealthCheck(status), HealthStatus.Unhealthy, null);
        return await new WorkerHealthCheck(status).CheckHealthAsync(new HealthCheckContext { Registration = registration });
    }

    [Fact]
    public async Task A_process_without_a_worker_is_ready() =>
        Assert.Equal(HealthStatus.Healthy, (await Check(new WorkerStatus { Expected = false })).Status);

    [Fact]
    public async Task A_worker_that_has_not_started_its_loops_is_ready_and_says_it_is_starting()
    {
        var result = await Check(new WorkerStatus { Expected = true });

        Assert.Equal(HealthStatus.Healthy, result.Status);
        Assert.Equal("Starting.", result.Description);
    }

    [Fact]
    public async Task A_running_worker_is_ready_until_its_last_loop_stops()
    {
        var status = new WorkerStatus { Expected = true };
        status.Started();
        status.Started();
        Assert.Equal("Running.", (await Check(status)).Description);

        status.Stopped();
        Assert.Equal(HealthStatus.Healthy, (await Check(status)).Status);

        status.Stopped();
        var stopped = await Check(status);
        Assert.Equal(HealthStatus.Unhealthy, stopped.Status);
        Assert.Equal("The training worker loop has stopped.", stopped.Description);
    }
}
