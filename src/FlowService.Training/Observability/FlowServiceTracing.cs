using System.Diagnostics;

namespace FlowService.Training.Observability;

/// <summary>
/// The one <see cref="ActivitySource"/> every FlowService span (training jobs and epochs, model loads, engine
/// batches) is started from; the tracer provider subscribes to <see cref="Name"/>. Starting a span costs nothing
/// when no listener samples it, so the hot paths call <see cref="ActivitySource.StartActivity(string, ActivityKind)"/>
/// unconditionally.
/// </summary>
public static class FlowServiceTracing
{
    public const string Name = "FlowService";

    public static readonly ActivitySource Source = new(Name);
}
