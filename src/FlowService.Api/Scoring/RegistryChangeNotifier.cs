using FlowService.Training.Registry;

namespace FlowService.Api.Scoring;

/// <summary>
/// Wraps the registry this process uses and reports every change made through it (a version registered by the
/// worker, an alias moved, a version deleted), so that the scoring service's cached name lookups follow at once.
/// Changes made by other processes reach it through the lookups' expiry (<see cref="ScoringOptions.ResolutionCacheMilliseconds"/>).
/// </summary>
public sealed class RegistryChangeNotifier(IModelRegistry inner) : IModelRegistry
{
    /// <summary>Raised after a change with the model's name and, for a delete, the deleted version.</summary>
    public event Action<string, int?>? Changed;

    public async Task<ModelVersion> RegisterAsync(NewModelVersion version, CancellationToken cancellationToken = default)
    {
        var registered = await inner.RegisterAsync(version, cancellationToken);
        Changed?.Invoke(registered.Model, null);
        return registered;
    }

    public Task<IReadOnlyList<ModelSummary>> ListAsync(CancellationToken cancellationToken = default) => inner.ListAsync(cancellationToken);

    public Task<ModelSummary?> GetModelAsync(string name, CancellationToken cancellationToken = default) => inner.GetModelAsync(name, cancellationToken);

    public Task<ModelVersion?> GetVersionAsync(string name, int version, CancellationToken cancellationToken = default) => inner.GetVersionAsync(name, version, cancellationToken);

    public Task<ModelVersion?> FindByJobAsync(string jobId, CancellationToken cancellationToken = default) => inner.FindByJobAsync(jobId, cancellationToken);

    public async Task<bool> SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken = default)
    {
        bool set = await inner.SetAliasAsync(name, alias, version, cancellationToken);
        if (set)
            Changed?.Invoke(name, null);
        return set;
    }

    public async Task<DeleteVersionResult> DeleteVersionAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        var result = await inner.DeleteVersionAsync(name, version, cancellationToken);
        if (result.Deleted)
            Changed?.Invoke(name, version);
        return result;
    }

    public Task<int?> ResolveDefaultAsync(string name, CancellationToken cancellationToken = default) => inner.ResolveDefaultAsync(name, cancellationToken);
}
