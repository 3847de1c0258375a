namespace FlowService.Training.Registry;

/// <summary>
/// Model names, their immutable versions and movable aliases. Version numbers are dense per model
/// (1, 2, 3, ... in registration order) and never reused, even after a delete. Implemented by
/// <see cref="SqliteModelRegistry"/> (embedded) and <see cref="PostgresModelRegistry"/> (scale-out).
/// </summary>
public interface IModelRegistry
{
    /// <summary>
    /// Registers a version whose checkpoint is already durable. Idempotent per job: registering the
    /// same job twice (a worker died between registering and completing the job) returns the first version.
    /// </summary>
    Task<ModelVersion> RegisterAsync(NewModelVersion version, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<ModelSummary>> ListAsync(CancellationToken cancellationToken = default);

    Task<ModelSummary?> GetModelAsync(string name, CancellationToken cancellationToken = default);

    Task<ModelVersion?> GetVersionAsync(string name, int version, CancellationToken cancellationToken = default);

    Task<ModelVersion?> FindByJobAsync(string jobId, CancellationToken cancellationToken = default);

    /// <summary>Points an alias at an existing version; false when the version does not exist.</summary>
    Task<bool> SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken = default);

    /// <summary>Deletes a version and its checkpoint unless an alias points at it.</summary>
    Task<DeleteVersionResult> DeleteVersionAsync(string name, int version, CancellationToken cancellationToken = default);

    /// <summary>The version to serve for a request naming none: alias "production" when set, else the latest.</summary>
    Task<int?> ResolveDefaultAsync(string name, CancellationToken cancellationToken = default);
}
