using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowService.Model.Checkpoints;
using FlowService.Model.Flows;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Transforms;

namespace FlowService.Training.Engine;

/// <summary>
/// The engine for every flow type of FlowService.Model's recipes (nice, realnvp, glow, maf, nsf and
/// their conditional variants): validates specs against the data shape, trains with
/// <see cref="FlowTrainer"/> on the training rows standardized per column (the standardization is the
/// flow's first transform, so log p is a density in the client's units), and stores checkpoints in
/// the safetensors + JSON format of <see cref="Checkpoint"/>.
/// </summary>
public sealed class NormalizingFlowEngine : IFlowEngine
{
    public IReadOnlyCollection<string> Types => FlowRecipes.Types;

    public (string Field, string Message)? Validate(JsonElement spec, int features, int contextFeatures)
    {
        try
        {
            // Arithmetic only: a spec of billions of parameters is refused without allocating them.
            FlowRecipes.Estimate(FlowSpec.From(spec), features, contextFeatures);
            return null;
        }
        catch (FlowSpecException e)
        {
            // "features" is the data's shape, not a spec field: the client fixes it through the dataset or contextColumns.
            return (e.Field == "features" ? "datasetId" : $"flow.{e.Field}", e.Message);
        }
    }

    public FlowSize? Estimate(JsonElement spec, int features, int contextFeatures) =>
        FlowRecipes.Estimate(FlowSpec.From(spec), features, contextFeatures);

    public TrainingOutcome Train(TrainingRun run, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var data = run.Data;
        int features = data.FeatureColumns.Count, contextFeatures = data.ContextColumns.Count;
        var normalization = Standardization.Fit(data.Train.Features, features);
        var spec = FlowSpec.From(run.Spec);
        var flow = NormalizingFlow.Create(spec, features, contextFeatures, run.Parameters.Seed, normalization);
        var result = new FlowTrainer(flow, run.Parameters).Train(data.Train, data.Validation, observer, run.StateFolder,
            Fingerprint(spec, data, run), cancellationToken);
        flow.SetParameters(result.BestParameters);
        return new TrainingOutcome(new TrainedFlow(flow, data.FeatureColumns, data.ContextColumns), result.EpochsRun, result.BestEpoch);
    }

    public string Save(IDensityFlow flow, JsonElement spec, string folder)
    {
        var trained = flow as TrainedFlow ?? throw new ArgumentException($"{nameof(NormalizingFlowEngine)} saves the flows it trained or loaded, not a {flow.GetType().Name}.", nameof(flow));
        var model = trained.Flow;
        var info = new CheckpointInfo
        {
            Spec = JsonNode.Parse(spec.GetRawText()),
            Seed = model.Seed,
            Features = model.Features,
            ContextFeatures = model.ContextFeatures,
            ColumnNames = trained.Columns.ToArray(),
            ContextColumnNames = trained.ContextColumns.ToArray(),
            NormalizationMean = model.Normalization?.Mean.ToArray(),
            NormalizationStd = model.Normalization?.Std.ToArray(),
        };
        Checkpoint.Save(folder, model.Layout, model.GetParameters(), info);
        // The manifest lists the sha256 of the weights and of model.json: its own hash covers the whole checkpoint.
        return Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, ChecksummedDirectory.ManifestName))));
    }

    public IDensityFlow Load(string folder)
    {
        var checkpoint = Checkpoint.Load(folder);
        var info = checkpoint.Info;
        var spec = FlowSpec.Parse(info.Spec?.ToJsonString() ?? throw new CheckpointCorruptException($"Checkpoint {folder}: model.json has no spec."));
        var normalization = info.NormalizationMean is { } mean && info.NormalizationStd is { } std ? new Standardization(mean, std) : null;
        // The seed rebuilds the same random permutations; the initial weights it draws are replaced at once.
        var flow = NormalizingFlow.Create(spec, info.Features, info.ContextFeatures, info.Seed, normalization);
        flow.SetParameters(checkpoint.Parameters(flow.Layout));
        return new TrainedFlow(flow, info.ColumnNames, info.ContextColumnNames);
    }

    /// <summary>What a resumable state must match: the spec, the data's shape and columns, the seed and the training settings.</summary>
    private static string Fingerprint(FlowSpec spec, Jobs.DatasetSplit data, TrainingRun run)
    {
        string text = string.Join('\n', spec.Json, string.Join(',', data.FeatureColumns), string.Join(',', data.ContextColumns),
            data.Train.Rows, data.Validation.Rows, JsonSerializer.Serialize(run.Parameters));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
