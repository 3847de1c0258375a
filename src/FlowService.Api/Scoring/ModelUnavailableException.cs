namespace FlowService.Api.Scoring;

/// <summary>
/// A registered version that this process refuses to serve: its checkpoint fails verification (tampered, truncated,
/// not the one the registry recorded) or it is over the parameter budget. Answered 409 with <see cref="Exception.Message"/>,
/// which names the model and version but never a server path.
/// </summary>
public sealed class ModelUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
