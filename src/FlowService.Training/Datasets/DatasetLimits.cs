using System.ComponentModel.DataAnnotations;

namespace FlowService.Training.Datasets;

/// <summary>Upload, request and model-size limits, bound from configuration section <c>FlowService:Limits</c>; validated when the host starts.</summary>
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

    /// <summary>Most values per image (C·H·W) of an image dataset; images are not bound by <see cref="MaxColumns"/>.</summary>
    public int MaxImageValues { get; set; } = 64 * 64 * 3;

    /// <summary>Most values (images x C·H·W) of a whole image dataset: 60,000 28x28 images are 47 million.</summary>
    public long MaxImageDatasetValues { get; set; } = 64_000_000;

    /// <summary>Largest n accepted by GET /sample.</summary>
    [Range(1, int.MaxValue)]
    public int MaxSampleCount { get; set; } = 1_000_000;

    /// <summary>Most rows accepted by one POST /score, /encode or /decode.</summary>
    [Range(1, int.MaxValue)]
    public int MaxScoreRows { get; set; } = 100_000;

    /// <summary>Most parameters a flow may have (a job's spec, or a checkpoint loaded for scoring): 20 M floats are 80 MB.</summary>
    public long MaxParameters { get; set; } = 20_000_000;

    /// <summary>Most memory one training job may need by <see cref="Engine.TrainingBudget"/>'s arithmetic (parameters, gradients, Adam moments, activations).</summary>
    public long MaxTrainingMemoryBytes { get; set; } = 2L * 1024 * 1024 * 1024;
}
