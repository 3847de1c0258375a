using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Registry;

/// <summary>
/// What a finished job registers; the registry assigns the version number. A reverse-KL fit has no dataset
/// (empty <see cref="DatasetId"/> and <see cref="DatasetSha256"/>) and records the <see cref="Target"/> it was fitted to.
/// </summary>
public sealed record NewModelVersion(
    string Model,
    string JobId,
    string DatasetId,
    string DatasetSha256,
    IReadOnlyList<string> Columns,
    IReadOnlyList<string> ContextColumns,
    JsonElement Flow,
    TrainingParameters Training,
    ModelMetrics Metrics,
    AnomalyCalibration Calibration,
    string CheckpointFolder,
    string CheckpointSha256,
    JsonElement? Target = null);
