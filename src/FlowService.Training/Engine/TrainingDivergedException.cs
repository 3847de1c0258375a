namespace FlowService.Training.Engine;

/// <summary>The loss or a gradient became NaN or infinite; the job fails with this message.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);
