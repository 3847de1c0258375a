using System.Text.Json;
using FlowService.Model.Json;

namespace FlowService.Training.Engine;

/// <summary>The engines this process has, asked in order for the one that handles a spec's "type".</summary>
public sealed class FlowEngineCatalog(IEnumerable<IFlowEngine> engines)
{
    readonly IFlowEngine[] _engines = engines.ToArray();

    /// <summary>The spec a job trains when its request names none: "auto", the search over candidates sized to the data (<see cref="AutoFlowSearch"/>).</summary>
    public static readonly JsonElement DefaultSpec = JsonDocument.Parse("""{"type":"auto"}""").RootElement.Clone();

    public IFlowEngine? Find(JsonElement spec) => _engines.FirstOrDefault(e => e.Handles(spec));

    /// <summary>The first problem of a spec for this data shape, as (JSON path, message), or null.</summary>
    public (string Field, string Message)? Validate(JsonElement spec, int features, int contextFeatures)
    {
        if (spec.ValueKind != JsonValueKind.Object)
            return ("flow", "'flow' must be a JSON object (a flow spec) such as {\"type\": \"realnvp\"}.");
        // Before any string is read: engines and messages read "type", which would throw on bytes that are not text.
        if (JsonText.FindUnreadable(spec, "flow") is { } unreadable)
            return (unreadable, JsonText.Problem(unreadable));
        if (!spec.TryGetProperty("type", out var type) || type.ValueKind != JsonValueKind.String)
            return ("flow.type", "The flow spec needs a string \"type\".");
        var engine = Find(spec);
        if (engine is null)
            return ("flow.type", $"Unknown flow type '{type.GetString()}'; known: {string.Join(", ", _engines.SelectMany(e => e.Types).Order())}.");
        return engine.Validate(spec, features, contextFeatures);
    }

    /// <summary>A valid spec's size, worked out without building the flow; null when its engine cannot tell.</summary>
    public Model.Flows.FlowSize? Estimate(JsonElement spec, int features, int contextFeatures) =>
        Find(spec)?.Estimate(spec, features, contextFeatures);
}
