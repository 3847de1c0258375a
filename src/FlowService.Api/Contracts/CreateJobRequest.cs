using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Api.Contracts;

/// <summary>
/// The body of POST /jobs. Only <see cref="DatasetId"/> and <see cref="Model"/> are required; or, for a reverse-KL fit
/// to an unnormalized density, <see cref="Target"/> (a built-in name or an expression, with its dimensions) and
/// <see cref="Model"/>, without a dataset or context columns.
/// </summary>
public sealed record CreateJobRequest(
    string? DatasetId,
    string? Model,
    JsonElement? Flow,
    TrainingParameters? Training,
    string[]? ContextColumns,
    JsonElement? Target = null);
