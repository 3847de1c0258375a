using System.Collections.Concurrent;
using Serilog.Core;
using Serilog.Events;

namespace FlowService.Api.Tests.Observability;

/// <summary>Keeps every Serilog event the service emits, for assertions on their properties.</summary>
public sealed class CapturingSink : ILogEventSink
{
    private readonly ConcurrentQueue<LogEvent> events = new();

    public IReadOnlyList<LogEvent> Events => events.ToArray();

    public void Emit(LogEvent logEvent) => events.Enqueue(logEvent);

    public static string? Scalar(LogEvent e, string property) =>
        e.Properties.TryGetValue(property, out var v) && v is ScalarValue s ? Convert.ToString(s.Value, System.Globalization.CultureInfo.InvariantCulture) : null;
}
