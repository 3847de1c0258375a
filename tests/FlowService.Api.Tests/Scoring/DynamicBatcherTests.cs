using System.Diagnostics.Metrics;
using FlowService.Api.Observability;
using FlowService.Api.Scoring;
using Microsoft.Extensions.DependencyInjection;

namespace FlowService.Api.Tests.Scoring;

/// <summary>Merging, splitting back, the batch-size cap, and the two ways overload is refused instead of absorbed.</summary>
public sealed class DynamicBatcherTests : IDisposable
{
    readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    InferenceMetrics Metrics => new(Prometheus.Metrics.NewCustomRegistry());

    public void Dispose() => _services.Dispose();

    static float[] Rows(int rows, int d, int seed) => Enumerable.Range(0, rows * d).Select(i => (float)(seed * 100 + i)).ToArray();

    [Fact]
    public async Task Concurrent_requests_are_merged_into_few_batches_and_each_gets_its_own_rows_back()
    {
        var flow = new RecordingFlow(3);
        using var batcher = new DynamicBatcher(BatchOperation.Encode(flow), new ScoringOptions { MaxBatchRows = 256, MaxQueueDelayMicroseconds = 100_000 }, Metrics, "test");
        var inputs = Enumerable.Range(0, 20).Select(i => Rows(1 + i % 3, 3, i)).ToArray();
        var z = inputs.Select(x => new float[x.Length]).ToArray();
        var logDet = inputs.Select(x => new float[x.Length / 3]).ToArray();
        await Task.WhenAll(inputs.Select((x, i) => Task.Run(() => batcher.RunAsync(x, [], x.Length / 3, z[i], logDet[i], CancellationToken.None))));

        for (int i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(inputs[i].Select(v => 2 * v + 1), z[i]);
            Assert.All(logDet[i], v => Assert.Equal(3 * MathF.Log(2), v, 5));
        }
        Assert.Equal(inputs.Sum(x => x.Length / 3), flow.Batches.Sum());
        // 20 requests within the 100 ms delay: one batch, or two when a request was enqueued as the first batch left.
        Assert.InRange(flow.Batches.Count, 1, 2);
    }

    [Fact]
    public async Task A_batch_never_exceeds_the_row_cap_and_large_requests_run_alone()
    {
        var flow = new RecordingFlow(2);
        using var batcher = new DynamicBatcher(BatchOperation.Score(flow), new ScoringOptions { MaxBatchRows = 32, MaxQueueDelayMicroseconds = 20_000 }, Metrics, "test");
        var inputs = Enumerable.Range(0, 10).Select(i => Rows(10, 2, i)).Append(Rows(40, 2, 99)).ToArray();
        var outputs = inputs.Select(x => new float[x.Length / 2]).ToArray();
        await Task.WhenAll(inputs.Select((x, i) => Task.Run(() => batcher.RunAsync(x, [], x.Length / 2, outputs[i], [], CancellationToken.None))));

        for (int i = 0; i < inputs.Length; i++)
            for (int r = 0; r < outputs[i].Length; r++)
                Assert.Equal(inputs[i][2 * r] + inputs[i][2 * r + 1], outputs[i][r]);
        Assert.Contains(40, flow.Batches);
        Assert.All(flow.Batches.Where(b => b != 40), b => Assert.True(b <= 32, $"batch of {b} rows"));
        Assert.Equal(140, flow.Batches.Sum());
    }

    [Fact]
    public async Task Past_the_queued_row_limit_a_request_is_refused_at_once()
    {
        var flow = new RecordingFlow(1);
        using var batcher = new DynamicBatcher(BatchOperation.Score(flow), new ScoringOptions { MaxBatchRows = 4, MaxQueuedRows = 4, MaxQueueDelayMicroseconds = 0 }, Metrics, "test");
        flow.Hold();
        var first = batcher.RunAsync([1], [], 1, new float[1], [], CancellationToken.None);
        Assert.True(flow.Entered.Wait(TimeSpan.FromSeconds(10)));
        var queued = Enumerable.Range(0, 4).Select(_ => batcher.RunAsync([1], [], 1, new float[1], [], CancellationToken.None)).ToArray();
        // Thrown synchronously: the refusal costs the caller nothing but the check.
        var refused = Assert.Throws<ServiceOverloadedException>(() => { _ = batcher.RunAsync([1], [], 1, new float[1], [], CancellationToken.None); });
        Assert.Equal(OverloadReason.QueueFull, refused.Reason);
        flow.Release();
        await first;
        await Task.WhenAll(queued);
    }

    [Fact]
    public async Task A_request_that_waited_past_the_queue_wait_limit_fails_instead_of_running_late()
    {
        var flow = new RecordingFlow(1);
        using var batcher = new DynamicBatcher(BatchOperation.Score(flow), new ScoringOptions { MaxBatchRows = 8, MaxQueueWaitMilliseconds = 50, MaxQueueDelayMicroseconds = 0 }, Metrics, "test");
        flow.Hold();
        var first = batcher.RunAsync([1], [], 1, new float[1], [], CancellationToken.None);
        Assert.True(flow.Entered.Wait(TimeSpan.FromSeconds(10)));
        var late = batcher.RunAsync([2], [], 1, new float[1], [], CancellationToken.None);
        await Task.Delay(200);
        flow.Release();
        await first;
        var e = await Assert.ThrowsAsync<ServiceOverloadedException>(() => late);
        Assert.Equal(OverloadReason.QueueTimeout, e.Reason);
        Assert.Single(flow.Batches);
    }

    [Fact]
    public void With_batching_off_every_request_runs_alone_on_its_callers_thread()
    {
        var flow = new RecordingFlow(2);
        using var batcher = new DynamicBatcher(BatchOperation.Decode(flow), new ScoringOptions { BatchingEnabled = false }, Metrics, "test");
        var x = new float[2];
        var task = batcher.RunAsync([3, 5], [], 1, x, [], CancellationToken.None);
        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal([1f, 2f], x);
        batcher.RunAsync([1, 1, 1, 1], [], 2, new float[4], [], CancellationToken.None);
        Assert.Equal([1, 2], flow.Batches);
    }
}
