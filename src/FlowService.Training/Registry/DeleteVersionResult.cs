namespace FlowService.Training.Registry;

/// <summary>Outcome of deleting a version: done, not there, or refused because aliases still point at it.</summary>
public sealed record DeleteVersionResult(bool Deleted, bool NotFound, IReadOnlyList<string> BlockingAliases);
