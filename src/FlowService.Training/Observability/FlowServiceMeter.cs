namespace FlowService.Training.Observability;

/// <summary>
/// The one <see cref="System.Diagnostics.Metrics.Meter"/> name every FlowService instrument is created under.
/// The /metrics exporter listens to this name only, and only to meters made by its own host's
/// <see cref="System.Diagnostics.Metrics.IMeterFactory"/>, so two hosts in one process (tests) never mix.
/// </summary>
public static class FlowServiceMeter
{
    public const string Name = "FlowService";
}
