using System.Diagnostics;
using System.Diagnostics.Metrics;
using FlowService.Training.Observability;

namespace FlowService.Api.Observability;

/// <summary>
/// Process and runtime gauges read at each scrape: CPU seconds, working set and private bytes, GC collections
/// per generation and heap size, thread pool threads and queue length. Names follow the Prometheus client
/// conventions (process_cpu_seconds_total, process_working_set_bytes, …).
/// </summary>
public sealed class ProcessMetrics
{
    private readonly Lock processLock = new();
    private readonly Process process = Process.GetCurrentProcess();

    public ProcessMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(FlowServiceMeter.Name);
        meter.CreateObservableCounter("process.cpu", () => Environment.CpuUsage.TotalTime.TotalSeconds, "s", "CPU time used by the process, user and system.");
        meter.CreateObservableGauge("process.working_set", () => Environment.WorkingSet, "By", "Physical memory mapped to the process.");
        meter.CreateObservableGauge("process.private_memory", PrivateBytes, "By", "Memory private to the process.");
        meter.CreateObservableGauge("process.start_time", () => (process.StartTime.ToUniversalTime() - DateTime.UnixEpoch).TotalSeconds, "s", "Start time of the process since the Unix epoch.");
        meter.CreateObservableCounter("dotnet.gc.collections", GcCollections, "{collections}", "Garbage collections since the process started, by generation.");
        meter.CreateObservableGauge("dotnet.gc.heap_size", () => GC.GetGCMemoryInfo().HeapSizeBytes, "By", "Managed heap size at the last garbage collection.");
        meter.CreateObservableCounter("dotnet.gc.allocated", () => GC.GetTotalAllocatedBytes(), "By", "Bytes allocated on the managed heap since the process started.");
        meter.CreateObservableGauge("dotnet.threadpool.threads", () => ThreadPool.ThreadCount, "{threads}", "Thread pool threads.");
        meter.CreateObservableGauge("dotnet.threadpool.queue_length", () => ThreadPool.PendingWorkItemCount, "{items}", "Work items waiting in the thread pool queue.");
    }

    private long PrivateBytes()
    {
        lock (processLock)
        {
            process.Refresh();
            return process.PrivateMemorySize64;
        }
    }

    private static IEnumerable<Measurement<long>> GcCollections()
    {
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            yield return new Measurement<long>(GC.CollectionCount(generation), new KeyValuePair<string, object?>("generation", "gen" + generation));
        }
    }
}
