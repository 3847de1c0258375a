using FlowService.Model.Flows;
using FlowService.Training.Datasets;

namespace FlowService.Training.Engine;

/// <summary>
/// The memory a training job needs, by arithmetic on the flow's <see cref="FlowSize"/>, checked against
/// <see cref="DatasetLimits.MaxParameters"/> and <see cref="DatasetLimits.MaxTrainingMemoryBytes"/> before a job is
/// queued or a checkpoint is loaded.
/// </summary>
public static class TrainingBudget
{
    /// <summary>
    /// Float32 copies of the parameters a training step holds: the parameters, the best epoch's copy, the summed
    /// gradient, one gradient per shard (<see cref="ShardedGradient"/>, as for table rows; image rows split into more
    /// shards, which this does not count) and Adam's two moments.
    /// </summary>
    public static int ParameterCopies(int batchSize) => 5 + ShardedGradient.ShardsFor(batchSize, features: 1);

    public static long PeakBytes(FlowSize size, int batchSize) =>
        4 * size.Parameters * ParameterCopies(batchSize) + size.FixedBytes + 4 * size.ActivationFloatsPerRow * batchSize;

    /// <summary>The first limit a training job of this size breaks, as (field, message), or null.</summary>
    public static (string Field, string Message)? Check(FlowSize size, int batchSize, DatasetLimits limits)
    {
        if (size.Parameters > limits.MaxParameters)
            return ("flow", $"The flow has {size.Parameters:N0} parameters; at most {limits.MaxParameters:N0} are allowed (FlowService:Limits:MaxParameters). Use fewer layers or narrower hidden layers.");
        long peak = PeakBytes(size, batchSize);
        if (peak <= limits.MaxTrainingMemoryBytes)
            return null;
        long withoutActivations = PeakBytes(size with { ActivationFloatsPerRow = 0 }, 1);
        string field = withoutActivations > limits.MaxTrainingMemoryBytes ? "flow" : "training.batchSize";
        return (field, $"Training this flow with batchSize {batchSize} needs about {peak / (1024 * 1024):N0} MiB " +
            $"({size.Parameters:N0} parameters x {ParameterCopies(batchSize)} copies, plus {size.ActivationFloatsPerRow:N0} activations per row); " +
            $"at most {limits.MaxTrainingMemoryBytes / (1024 * 1024):N0} MiB are allowed (FlowService:Limits:MaxTrainingMemoryBytes). " +
            (field == "flow" ? "Use a smaller flow." : "Use a smaller batchSize."));
    }

    /// <summary>The parameter limit alone, for a checkpoint about to be loaded for scoring.</summary>
    public static string? CheckForServing(FlowSize size, DatasetLimits limits) =>
        size.Parameters > limits.MaxParameters
            ? $"The model has {size.Parameters:N0} parameters; at most {limits.MaxParameters:N0} are allowed (FlowService:Limits:MaxParameters)."
            : null;
}
