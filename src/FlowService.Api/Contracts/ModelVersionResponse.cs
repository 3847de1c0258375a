using System.Text.Json;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;

namespace FlowService.Api.Contracts;

/// <summary>A registered version as GET /models/{name}/versions/{v} shows it.</summary>
public sealed record ModelVersionResponse(
    string Model,
    int Version,
    IReadOnlyList<string> Aliases,
    string JobId,
    string DatasetId,
    string DatasetSha256,
    IReadOnlyList<string> Columns,
    IReadOnlyList<string> ContextColumns,
    JsonElement Flow,
    TrainingParameters Training,
    ModelMetrics Metrics,
    IReadOnlyDictionary<string, double> CalibrationQuantiles,
    int CalibrationRows,
    string CheckpointSha256,
    string CheckpointUrl,
    DateTimeOffset CreatedAt)
{
    public static ModelVersionResponse From(ModelVersion v, IReadOnlyDictionary<string, int> aliases) => new(
        v.Model, v.Version, aliases.Where(a => a.Value == v.Version).Select(a => a.Key).ToArray(), v.JobId, v.DatasetId, v.DatasetSha256,
        v.Columns, v.ContextColumns, v.Flow, v.Training, v.Metrics, v.Calibration.Quantiles, v.Calibration.Rows, v.CheckpointSha256,
        $"/models/{v.Model}/versions/{v.Version}/checkpoint", v.CreatedAt);
}
