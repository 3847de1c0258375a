using FlowService.Api.Endpoints;
using FlowService.Api.Observability;
using FlowService.Training.Engine;
using FlowService.Training.Registry;
using FlowService.Training.Storage;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Scoring;

/// <summary>
/// Finds the version a request means (explicit version, an alias, or the default: alias production,
/// else the latest) and hands out loaded flows from a bounded LRU cache, so scoring does not reload
/// checkpoints. Versions are immutable, so a cached flow never goes stale.
/// </summary>
public sealed class ScoringService(IModelRegistry registry, FlowEngineCatalog engines, DataFolder folder, IOptions<ScoringOptions> options, InferenceMetrics metrics)
{
    readonly LruCache<(string Model, int Version), IDensityFlow> _cache = Observed(new(options.Value.ModelCacheSize), metrics);

    /// <summary>Cache hits and misses feed the metrics as they happen; the loaded-models gauge reads the cache's size at each scrape.</summary>
    static LruCache<(string Model, int Version), IDensityFlow> Observed(LruCache<(string Model, int Version), IDensityFlow> cache, InferenceMetrics metrics)
    {
        cache.Lookup += hit =>
        {
            if (hit) metrics.CacheHit();
            else metrics.CacheMiss();
        };
        metrics.ObserveLoadedModels(() => cache.Count);
        return cache;
    }

    public LruCache<(string Model, int Version), IDensityFlow> Cache => _cache;

    public sealed record Resolved(ModelVersion Version, IDensityFlow Flow);

    /// <summary>The version and its loaded flow, or a 400/404 problem naming the field that was wrong.</summary>
    public async Task<(Resolved? Model, ProblemHttpResult? Problem)> ResolveAsync(string? model, int? version, string? alias, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(model))
            return (null, Problems.BadRequest("'model' is required: the name of a trained model.", field: "model"));
        if (version is not null && alias is not null)
            return (null, Problems.BadRequest("Give 'version' or 'alias', not both.", field: "alias"));
        var summary = await registry.GetModelAsync(model, cancellationToken);
        if (summary is null)
            return (null, Problems.NotFound($"No model is named '{model}'.", field: "model"));
        int number;
        if (version is not null)
            number = version.Value;
        else if (alias is not null)
        {
            if (!summary.Aliases.TryGetValue(alias, out number))
                return (null, Problems.NotFound($"Model '{model}' has no alias '{alias}' (aliases: {string.Join(", ", summary.Aliases.Keys)}).", field: "alias"));
        }
        else if (await registry.ResolveDefaultAsync(model, cancellationToken) is { } defaultVersion)
            number = defaultVersion;
        else
            return (null, Problems.NotFound($"Model '{model}' has no versions.", field: "model"));

        var found = await registry.GetVersionAsync(model, number, cancellationToken);
        if (found is null)
            return (null, Problems.NotFound($"Model '{model}' has no version {number} (versions: {string.Join(", ", summary.Versions)}).", field: "version"));
        var flow = await _cache.GetOrLoadAsync((model, number), _ => Task.Run(() => Load(found)));
        return (new Resolved(found, flow), null);
    }

    IDensityFlow Load(ModelVersion version)
    {
        var engine = engines.Find(version.Flow)
            ?? throw new InvalidOperationException($"No engine in this process loads flow type of {version.Model} v{version.Version}.");
        return engine.Load(folder.Resolve(version.CheckpointFolder));
    }
}
