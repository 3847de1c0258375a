using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace FlowService.ServingLoad;

/// <summary>
/// The runtime's allocation samples (GCAllocationTick: one event per ~100 KB allocated, naming the type of the object
/// that crossed the threshold) summed by type: a sampled picture of which types a request's bytes go to, without a
/// profiler attached.
/// </summary>
public sealed class AllocationTypes : EventListener
{
    const int GcKeyword = 0x1;
    readonly ConcurrentDictionary<string, long> bytesByType = new();
    volatile bool recording;

    public void Start() => recording = true;

    public void Stop() => recording = false;

    /// <summary>
    /// The types with the most sampled bytes, largest first, with their share of the sampled total and that share of
    /// <paramref name="bytesPerRequest"/> (an estimate: the runtime samples one allocation per ~100 KB).
    /// </summary>
    public IEnumerable<object> Top(int count, long bytesPerRequest)
    {
        double total = Math.Max(1, bytesByType.Values.Sum());
        return bytesByType.OrderByDescending(kv => kv.Value).Take(count)
            .Select(kv => new { type = kv.Key, share = Math.Round(kv.Value / total, 3), bytesPerRequest = (int)Math.Round(kv.Value / total * bytesPerRequest) });
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime")
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!recording || e.EventName is null || !e.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null || e.PayloadNames is null)
            return;
        int typeIndex = e.PayloadNames.IndexOf("TypeName");
        int amountIndex = e.PayloadNames.IndexOf("AllocationAmount64");
        if (typeIndex < 0 || amountIndex < 0) return;
        string type = e.Payload[typeIndex] as string ?? "?";
        long amount = Convert.ToInt64(e.Payload[amountIndex], System.Globalization.CultureInfo.InvariantCulture);
        bytesByType.AddOrUpdate(type, amount, (_, v) => v + amount);
    }
}
