namespace FlowService.Training.Registry;

/// <summary>A model name with its versions (ascending) and aliases (alias → version).</summary>
public sealed record ModelSummary(string Name, IReadOnlyList<int> Versions, IReadOnlyDictionary<string, int> Aliases, DateTimeOffset CreatedAt)
{
    public int? Latest => Versions.Count == 0 ? null : Versions[^1];
}
