using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Registry;

/// <summary>What a finished job registers; the registry assigns the version number.</summary>
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
    string CheckpointSha256);
