namespace FlowService.Api.Scoring;

/// <summary>The registry has no such model version (it never existed or was deleted); answered 404.</summary>
public sealed class VersionMissingException(string model, int version) : Exception($"Model '{model}' has no version {version}.")
{
    public string Model { get; } = model;

    public int Version { get; } = version;
}
