using System.Collections.Concurrent;
using System.Text;

namespace FlowService.Api.Observability;

/// <summary>
/// The aggregated state of one Prometheus family: a series per label set. Counters and up-down counters add
/// measurements; observable instruments and gauges report absolute values (the latest one wins, and the series
/// of an observable family are cleared before each collection so that a label set nobody reports any more
/// disappears); histograms count into fixed buckets and keep sum and count.
/// </summary>
internal sealed class MetricFamily(string name, MetricKind kind, string help, bool absolute, bool observable, double[] bounds)
{
    private readonly ConcurrentDictionary<string, Series> series = new(StringComparer.Ordinal);

    public string Name => name;

    public bool Observable => observable;

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (double.IsNaN(value)) return;
        var labels = PrometheusText.LabelSet(tags);
        var s = series.GetOrAdd(labels, static (_, b) => new Series(b.Length), bounds);
        lock (s)
        {
            switch (kind)
            {
                case MetricKind.Histogram:
                    var bucket = Array.BinarySearch(bounds, value);
                    // Prometheus buckets are upper-inclusive (le): an exact hit belongs to that bucket.
                    if (bucket < 0) bucket = ~bucket;
                    if (bucket < bounds.Length) s.Buckets[bucket]++;
                    s.Sum += value;
                    s.Count++;
                    break;
                default:
                    s.Value = absolute ? value : s.Value + value;
                    break;
            }
        }
    }

    public void ClearObservations() => series.Clear();

    public void WriteTo(StringBuilder text)
    {
        text.Append("# HELP ").Append(name).Append(' ').Append(PrometheusText.EscapeHelp(help)).Append('\n');
        text.Append("# TYPE ").Append(name).Append(' ').Append(kind switch
        {
            MetricKind.Counter => "counter",
            MetricKind.Histogram => "histogram",
            _ => "gauge",
        }).Append('\n');
        foreach (var (labels, s) in series.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            lock (s)
            {
                if (kind == MetricKind.Histogram) WriteHistogram(text, labels, s);
                else WriteSample(text, name, labels, s.Value);
            }
        }
    }

    private void WriteHistogram(StringBuilder text, string labels, Series s)
    {
        var prefix = labels.Length == 0 ? "" : labels + ",";
        long cumulative = 0;
        for (var i = 0; i < bounds.Length; i++)
        {
            cumulative += s.Buckets[i];
            WriteSample(text, name + "_bucket", prefix + "le=\"" + PrometheusText.Number(bounds[i]) + "\"", cumulative);
        }
        WriteSample(text, name + "_bucket", prefix + "le=\"+Inf\"", s.Count);
        WriteSample(text, name + "_sum", labels, s.Sum);
        WriteSample(text, name + "_count", labels, s.Count);
    }

    private static void WriteSample(StringBuilder text, string sampleName, string labels, double value)
    {
        text.Append(sampleName);
        if (labels.Length > 0) text.Append('{').Append(labels).Append('}');
        text.Append(' ').Append(PrometheusText.Number(value)).Append('\n');
    }

    private sealed class Series(int bucketCount)
    {
        public readonly long[] Buckets = new long[bucketCount];
        public double Value;
        public double Sum;
        public long Count;
    }
}
