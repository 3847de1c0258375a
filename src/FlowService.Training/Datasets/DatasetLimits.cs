namespace FlowService.Training.Datasets;

/// <summary>Upload, request and model-size limits, bound from configuration section <c>FlowService:Limits</c>.</summary>
public sealed class DatasetLimits
{
    public const string Section = "FlowService:Limits";

    /// <summary>Largest accepted request body for an upload, in bytes (larger: 413).</summary>
    public long MaxUploadBytes { get; set; } = 64L * 1024 * 1024;

    public int MaxRows { get; set; } = 1_000_000;

    public int MaxColumns { get; set; } = 512;

    /// <summary>Largest n accepted by GET /sample.</summary>
    public int MaxSampleCount { get; set; } = 1_000_000;

    /// <summary>Most rows accepted by one POST /score, /encode or /decode.</summary>
    public int MaxScoreRows { get; set; } = 100_000;

    /// <summary>Most parameters a flow may have (a job's spec, or a checkpoint loaded for scoring): 20 M floats are 80 MB.</summary>
    public long MaxParameters { get; set; } = 20_000_000;

    /// <summary>Most memory one training job may need by <see cref="Engine.TrainingBudget"/>'s arithmetic (parameters, gradients, Adam moments, activations).</summary>
    public long MaxTrainingMemoryBytes { get; set; } = 2L * 1024 * 1024 * 1024;
}
