using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlowService.Training.Jobs;

/// <summary>
/// What a job trains: a dataset, the model name its version is registered under, the flow spec (JSON,
/// validated by the engine's FlowSpec) and training parameters. <see cref="ContextColumns"/> name the
/// dataset columns a conditional flow is conditioned on; the remaining columns are modelled.
/// A reverse-KL job has no dataset (<see cref="DatasetId"/> is empty) and a <see cref="Target"/>: the
/// <c>TargetSpec</c> JSON of the unnormalized density the flow is fitted to.
/// <see cref="Owner"/> is the credential that queued it (API key id or token subject; null with authentication off),
/// counted against that credential's quota of queued jobs.
/// </summary>
public sealed record JobRequest(
    string DatasetId,
    string Model,
    JsonElement Flow,
    TrainingParameters Training,
    IReadOnlyList<string> ContextColumns,
    JsonElement? Target = null,
    string? Owner = null)
{
    [JsonIgnore]
    public bool IsTargetFit => Target is { ValueKind: JsonValueKind.Object };
}
