using System.ComponentModel.DataAnnotations;

namespace FlowService.Training.Datasets;

/// <summary>Upload limits, bound from configuration section <c>FlowService:Limits</c>; validated when the host starts.</summary>
public sealed class DatasetLimits
{
    public const string Section = "FlowService:Limits";

    /// <summary>Largest accepted request body for an upload, in bytes (larger: 413).</summary>
    [Range(1, long.MaxValue)]
    public long MaxUploadBytes { get; set; } = 64L * 1024 * 1024;

    [Range(1, int.MaxValue)]
    public int MaxRows { get; set; } = 1_000_000;

    [Range(1, 65_536)]
    public int MaxColumns { get; set; } = 512;

    /// <summary>Largest n accepted by GET /sample.</summary>
    [Range(1, int.MaxValue)]
    public int MaxSampleCount { get; set; } = 1_000_000;

    /// <summary>Most rows accepted by one POST /score, /encode or /decode.</summary>
    [Range(1, int.MaxValue)]
    public int MaxScoreRows { get; set; } = 100_000;
}
