using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Api.Contracts;

/// <summary>The body of POST /jobs. Only <see cref="DatasetId"/> and <see cref="Model"/> are required.</summary>
public sealed record CreateJobRequest(
    string? DatasetId,
    string? Model,
    JsonElement? Flow,
    TrainingParameters? Training,
    string[]? ContextColumns);
