namespace FlowService.Model.Checkpoints;

/// <summary>
/// A checkpoint on disk is missing a file, fails its sha256, or does not match the model it is
/// loaded into. The message names the directory, the file and what differed.
/// </summary>
public sealed class CheckpointCorruptException(string message, Exception? inner = null) : Exception(message, inner);
