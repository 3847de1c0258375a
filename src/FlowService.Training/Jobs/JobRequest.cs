using System.Text.Json;

namespace FlowService.Training.Jobs;

/// <summary>
/// What a job trains: a dataset, the model name its version is registered under, the flow spec (JSON,
/// validated by the engine's FlowSpec) and training parameters. <see cref="ContextColumns"/> name the
/// dataset columns a conditional flow is conditioned on; the remaining columns are modelled.
/// <see cref="Owner"/> is the credential that queued it (API key id or token subject; null with authentication off),
/// counted against that credential's quota of queued jobs.
/// </summary>
public sealed record JobRequest(
    string DatasetId,
    string Model,
    JsonElement Flow,
    TrainingParameters Training,
    IReadOnlyList<string> ContextColumns,
    string? Owner = null);
