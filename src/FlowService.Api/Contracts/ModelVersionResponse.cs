using System.Text.Json;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;

namespace FlowService.Api.Contracts;

/// <summary>
/// A registered version as GET /models/{name}/versions/{v} shows it. A reverse-KL fit has no dataset (null
/// <see cref="DatasetId"/> and <see cref="DatasetSha256"/>), its <see cref="Target"/>, and log Ẑ in metrics.target.
/// </summary>
public sealed record ModelVersionResponse(
    string Model,
    int Version,
    IReadOnlyList<string> Aliases,
    string JobId,
    string? DatasetId,
    string? DatasetSha256,
    IReadOnlyList<string> Columns,
    IReadOnlyList<string> ContextColumns,
    JsonElement Flow,
    TrainingParameters Training,
    ModelMetrics Metrics,
    IReadOnlyDictionary<string, double> CalibrationQuantiles,
    int CalibrationRows,
    string CheckpointSha256,
    string CheckpointUrl,
    DateTimeOffset CreatedAt,
    JsonElement? Target)
{
    public static ModelVersionResponse From(ModelVersion v, IReadOnlyDictionary<string, int> aliases) => new(
        v.Model, v.Version, aliases.Where(a => a.Value == v.Version).Select(a => a.Key).ToArray(), v.JobId,
        v.Target is null ? v.DatasetId : null, v.Target is null ? v.DatasetSha256 : null,
        v.Columns, v.ContextColumns, v.Flow, v.Training, v.Metrics, v.Calibration.Quantiles, v.Calibration.Rows, v.CheckpointSha256,
        $"/models/{v.Model}/versions/{v.Version}/checkpoint", v.CreatedAt, v.Target);
}
