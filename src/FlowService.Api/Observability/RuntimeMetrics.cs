using Prometheus;

namespace FlowService.Api.Observability;

/// <summary>
/// The .NET runtime gauges prometheus-net's <see cref="DotNetStats"/> leaves out (it has process CPU and memory, GC
/// collection counts and total memory): heap size at the last GC, bytes allocated, thread pool threads and queue
/// length. Read before each scrape; the dashboard's runtime row plots them.
/// </summary>
public static class RuntimeMetrics
{
    public static void Register(CollectorRegistry registry)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);
        var heap = factory.CreateGauge("dotnet_gc_heap_size_bytes", "Managed heap size at the last garbage collection.");
        var allocated = factory.CreateCounter("dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since the process started.");
        var threads = factory.CreateGauge("dotnet_threadpool_threads", "Thread pool threads.");
        var queue = factory.CreateGauge("dotnet_threadpool_queue_length", "Work items waiting in the thread pool queue.");
        registry.AddBeforeCollectCallback(() =>
        {
            heap.Set(GC.GetGCMemoryInfo().HeapSizeBytes);
            allocated.IncTo(GC.GetTotalAllocatedBytes());
            threads.Set(ThreadPool.ThreadCount);
            queue.Set(ThreadPool.PendingWorkItemCount);
        });
    }
}
