using System.Text.Json;

namespace FlowService.Training.Jobs;

/// <summary>The flow spec a job trains when its request names none, and the check of a spec sent with a job.</summary>
public static class FlowSpecs
{
    public static readonly JsonElement Default = JsonDocument.Parse("""{"type":"realnvp"}""").RootElement.Clone();

    /// <summary>The first problem of a spec as (field, message), or null when the engine accepts it for <paramref name="features"/> modelled columns.</summary>
    public static (string Field, string Message)? Validate(JsonElement flow, int features)
    {
        if (flow.ValueKind != JsonValueKind.Object)
            return ("flow", "'flow' must be a JSON object (a flow spec).");
        return null;
    }
}
