using System.Collections.Concurrent;

namespace FlowService.Api.Observability;

/// <summary>
/// Keeps the "model" label bounded: model names come from users, so after <see cref="MaxModels"/> distinct names
/// further ones are reported as "other" instead of growing the series count without end.
/// </summary>
internal sealed class ModelLabelLimiter
{
    public const int MaxModels = 200;
    public const string Overflow = "other";

    private readonly ConcurrentDictionary<string, byte> seen = new(StringComparer.Ordinal);

    public string Label(string model)
    {
        if (seen.ContainsKey(model)) return model;
        if (seen.Count >= MaxModels) return Overflow;
        seen.TryAdd(model, 0);
        return model;
    }
}
