using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Registry;

/// <summary>
/// An immutable trained model: its checkpoint (safetensors + model.json in <see cref="CheckpointFolder"/>),
/// the flow spec (the folder is relative to the data folder), where its data came from, how it was trained, how well it fits and its anomaly calibration;
/// for a reverse-KL fit, the target (<c>TargetSpec</c> JSON) instead of a dataset.
/// </summary>
public sealed record ModelVersion(
    string Model,
    int Version,
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
    DateTimeOffset CreatedAt,
    JsonElement? Target = null);
