using System.Collections.Concurrent;
using System.Diagnostics;
using FlowService.Api.Observability;
using FlowService.Training.Observability;
using FlowService.Model.Checkpoints;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Registry;
using FlowService.Training.Storage;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Scoring;

/// <summary>
/// Finds the version a request means (explicit version, an alias, or the default: alias production,
/// else the latest) and hands out served models (flow + batchers) from a bounded LRU cache, so scoring does not
/// reload checkpoints. Versions are immutable, so a cached model never goes stale; alias and default lookups are
/// reused for <see cref="ScoringOptions.ResolutionCacheMilliseconds"/> (dropped at once when this process changes the registry),
/// so the hot path asks the registry nothing. Every model is run once (<see cref="ModelWarmup"/>) before it serves.
/// </summary>
public sealed class ScoringService
{
    readonly IModelRegistry _registry;
    readonly FlowEngineCatalog _engines;
    readonly DataFolder _folder;
    readonly ScoringOptions _options;
    readonly InferenceMetrics _metrics;
    readonly ILogger<ScoringService> _logger;
    readonly LruCache<(string Model, int Version), ServedModel> _cache;
    readonly ConcurrentDictionary<(string Model, string Alias), (int Version, long Expires)> _names = new();
    readonly long _nameTtlTicks;
    readonly DatasetLimits _limits;

    public ScoringService(IModelRegistry registry, FlowEngineCatalog engines, DataFolder folder, IOptions<ScoringOptions> options, InferenceMetrics metrics,
        ILogger<ScoringService> logger, IOptions<DatasetLimits> limits)
    {
        _limits = limits.Value;
        _registry = registry;
        _engines = engines;
        _folder = folder;
        _options = options.Value;
        _metrics = metrics;
        _logger = logger;
        _nameTtlTicks = (_options.ResolutionCacheMilliseconds ?? ScoringOptions.EmbeddedResolutionCacheMilliseconds) * Stopwatch.Frequency / 1000;
        _cache = new LruCache<(string Model, int Version), ServedModel>(_options.ModelCacheSize);
        // Cache hits and misses feed the metrics as they happen; the loaded-models gauge reads the cache's size at each scrape.
        _cache.Lookup += hit =>
        {
            if (hit) metrics.CacheHit();
            else metrics.CacheMiss();
        };
        metrics.ObserveLoadedModels(() => _cache.Count);
        if (registry is RegistryChangeNotifier notifier)
            notifier.Changed += OnRegistryChanged;
    }

    public LruCache<(string Model, int Version), ServedModel> Cache => _cache;

    public sealed record Resolved(ModelVersion Version, ServedModel Served)
    {
        public IDensityFlow Flow => Served.Flow;
    }

    /// <summary>The version and its served model, or why there is none (the field that was wrong, and whether it was invalid or missing).</summary>
    public async Task<(Resolved? Model, ResolutionFailure? Failure)> ResolveAsync(string? model, int? version, string? alias, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(model))
            return (null, ResolutionFailure.BadRequest("model", "'model' is required: the name of a trained model."));
        if (version is not null && alias is not null)
            return (null, ResolutionFailure.BadRequest("alias", "Give 'version' or 'alias', not both."));
        int number;
        if (version is not null)
            number = version.Value;
        else if (_names.TryGetValue((model, alias ?? ""), out var named) && named.Expires > Stopwatch.GetTimestamp())
            number = named.Version;
        else
        {
            var summary = await _registry.GetModelAsync(model, cancellationToken);
            if (summary is null)
                return (null, ResolutionFailure.Missing("model", $"No model is named '{model}'."));
            if (alias is not null)
            {
                if (!summary.Aliases.TryGetValue(alias, out number))
                    return (null, ResolutionFailure.Missing("alias", $"Model '{model}' has no alias '{alias}' (aliases: {string.Join(", ", summary.Aliases.Keys)})."));
            }
            else if (await _registry.ResolveDefaultAsync(model, cancellationToken) is { } defaultVersion)
                number = defaultVersion;
            else
                return (null, ResolutionFailure.Missing("model", $"Model '{model}' has no versions."));
            _names[(model, alias ?? "")] = (number, Stopwatch.GetTimestamp() + _nameTtlTicks);
        }

        try
        {
            // Lookups not cached means another replica may change the registry: a version it deleted must not be
            // served from this replica's memory, so the version's row is checked on every request.
            if (_nameTtlTicks == 0 && await _registry.GetVersionAsync(model, number, cancellationToken) is null)
            {
                _cache.Remove((model, number));
                throw new VersionMissingException(model, number);
            }
            var served = await PrepareAsync(model, number, cancellationToken);
            return (new Resolved(served.Version, served), null);
        }
        catch (ModelUnavailableException e)
        {
            return (null, ResolutionFailure.NotServable(e.Message));
        }
        catch (VersionMissingException)
        {
            var summary = await _registry.GetModelAsync(model, cancellationToken);
            return summary is null
                ? (null, ResolutionFailure.Missing("model", $"No model is named '{model}'."))
                : (null, ResolutionFailure.Missing("version", $"Model '{model}' has no version {number} (versions: {string.Join(", ", summary.Versions)})."));
        }
    }

    /// <summary>
    /// Loads a version into the cache and runs it once, unless it is there already; alias changes and start-up
    /// call it so that the first request a version serves does not pay for loading and first-run costs.
    /// </summary>
    /// <exception cref="VersionMissingException">The registry has no such version.</exception>
    public Task<ServedModel> PrepareAsync(string model, int version, CancellationToken cancellationToken) =>
        _cache.GetOrLoadAsync((model, version), key => LoadAsync(key.Model, key.Version));

    async Task<ServedModel> LoadAsync(string model, int number)
    {
        using var span = FlowServiceTracing.Source.StartActivity("model load");
        span?.SetTag("flowservice.model", model);
        span?.SetTag("flowservice.model.version", number);
        var found = await _registry.GetVersionAsync(model, number) ?? throw new VersionMissingException(model, number);
        return await Task.Run(() =>
        {
            long started = Stopwatch.GetTimestamp();
            var engine = _engines.Find(found.Flow)
                ?? throw new InvalidOperationException($"No engine in this process loads flow type of {found.Model} v{found.Version}.");
            // The budget first, from the registry's spec: an oversized checkpoint is refused before its weights are read.
            if (engine.Estimate(found.Flow, found.Columns.Count, found.ContextColumns.Count) is { } size
                && TrainingBudget.CheckForServing(size, _limits) is { } overBudget)
                throw new ModelUnavailableException($"Model '{found.Model}' v{found.Version} is not served: {overBudget}");
            var served = new ServedModel(found, LoadVerified(engine, found), _options, _metrics);
            try
            {
                var (tailNaN, rows) = ModelWarmup.Run(served, _options.MaxBatchRows);
                if (tailNaN > 0)
                    _logger.LogWarning("Model {Model} v{ModelVersion}: {Count} of {Rows} samples at temperature 1 score NaN (its far tails overflow); " +
                        "served, since its typical samples score. /score answers null and flags such rows.", found.Model, found.Version, tailNaN, rows);
            }
            catch
            {
                served.Dispose();
                throw;
            }
            _logger.LogInformation("Loaded and warmed up model {Model} v{ModelVersion} in {ElapsedMs:0.0} ms",
                found.Model, found.Version, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            return served;
        });
    }

    /// <summary>
    /// Loads a checkpoint only if its manifest is the one the registry recorded (checkpointSha256) and every file matches
    /// the manifest (the engine's load checks those): a swapped file with a recomputed SHA256SUMS fails the first check.
    /// </summary>
    IDensityFlow LoadVerified(IFlowEngine engine, ModelVersion found)
    {
        string folder = _folder.Resolve(found.CheckpointFolder);
        try
        {
            string actual = engine.ChecksumOf(folder);
            if (!string.Equals(actual, found.CheckpointSha256, StringComparison.OrdinalIgnoreCase))
                throw new CheckpointCorruptException(
                    $"its checkpoint's sha256 is {actual}, not the registry's checkpointSha256 {found.CheckpointSha256} recorded at training: the checkpoint was replaced or edited");
            return engine.Load(folder);
        }
        catch (Exception e) when (e is CheckpointCorruptException or IOException or UnauthorizedAccessException)
        {
            // The full reason (with paths) goes to the log for the operator; the client gets it without server paths.
            _logger.LogError(e, "Refused to load model {Model} v{ModelVersion}: checkpoint verification failed", found.Model, found.Version);
            string reason = e.Message.Replace(_folder.Root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, "", StringComparison.Ordinal)
                .Replace(_folder.Root, "", StringComparison.Ordinal);
            throw new ModelUnavailableException($"Model '{found.Model}' v{found.Version} failed checkpoint verification and is not served: {reason}", e);
        }
    }

    void OnRegistryChanged(string model, int? deletedVersion)
    {
        foreach (var key in _names.Keys)
            if (key.Model == model)
                _names.TryRemove(key, out _);
        if (deletedVersion is { } version)
            _cache.Remove((model, version));
    }
}
