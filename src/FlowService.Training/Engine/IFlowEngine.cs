using System.Text.Json;

namespace FlowService.Training.Engine;

/// <summary>
/// The seam between the service and a flow implementation: spec validation, training with
/// per-epoch progress and resumable state, and checkpoints. The service never depends on how a
/// flow computes; an engine answers for the spec types it <see cref="Handles"/>.
/// </summary>
public interface IFlowEngine
{
    /// <summary>The spec "type" values this engine builds, lower case.</summary>
    IReadOnlyCollection<string> Types { get; }

    /// <summary>True when this engine builds flows of the spec's "type" (compared case-insensitively).</summary>
    bool Handles(JsonElement spec) =>
        spec.ValueKind == JsonValueKind.Object && spec.TryGetProperty("type", out var type) && type.ValueKind == JsonValueKind.String
        && Types.Contains(type.GetString()!.Trim().ToLowerInvariant());

    /// <summary>The first problem of a spec for this data shape, as (JSON path, message), or null.</summary>
    (string Field, string Message)? Validate(JsonElement spec, int features, int contextFeatures);

    /// <summary>
    /// The flow's size from a valid spec, worked out without building it; null when this engine cannot tell, in which
    /// case only its own validation bounds the flow.
    /// </summary>
    Model.Flows.FlowSize? Estimate(JsonElement spec, int features, int contextFeatures) => null;

    /// <summary>Trains until the epochs run out or early stopping; throws <see cref="TrainingDivergedException"/> on NaN/Inf and OperationCanceledException when cancelled.</summary>
    TrainingOutcome Train(TrainingRun run, ITrainingObserver observer, CancellationToken cancellationToken);

    /// <summary>Writes the flow's checkpoint into <paramref name="folder"/> (atomically per file) and returns its sha256.</summary>
    string Save(IDensityFlow flow, JsonElement spec, string folder);

    /// <summary>Loads a checkpoint written by <see cref="Save"/>.</summary>
    IDensityFlow Load(string folder);

    /// <summary>
    /// The sha256 <see cref="Save"/> returned for this checkpoint, recomputed from the folder as it is now (the registry's
    /// checkpointSha256 to compare with). By default the sha256 of its SHA256SUMS manifest, which lists every file's sum.
    /// </summary>
    string ChecksumOf(string folder)
    {
        string manifest = Path.Combine(folder, Model.Checkpoints.ChecksummedDirectory.ManifestName);
        if (!File.Exists(manifest))
            throw new Model.Checkpoints.CheckpointCorruptException($"Checkpoint {folder}: {Model.Checkpoints.ChecksummedDirectory.ManifestName} is missing.");
        return Model.Checkpoints.ChecksummedDirectory.Sha256(File.ReadAllBytes(manifest));
    }
}
