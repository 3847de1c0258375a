using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowService.Model.Checkpoints;
using FlowService.Model.Flows;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Targets;
using FlowService.Model.Transforms;
using FlowService.Training.Registry;

namespace FlowService.Training.Engine;

/// <summary>
/// The engine for every flow type of FlowService.Model's recipes (nice, realnvp, glow, maf, nsf and
/// their conditional variants): validates specs against the data shape, trains with
/// <see cref="FlowTrainer"/> on the training rows standardized per column (the standardization is the
/// flow's first transform, so log p is a density in the client's units), and stores checkpoints in
/// the safetensors + JSON format of <see cref="Checkpoint"/>. It also fits generative flows of the same
/// recipes to unnormalized densities by reverse KL (<see cref="FitTarget"/>, <see cref="ReverseKlTrainer"/>).
/// </summary>
public sealed class NormalizingFlowEngine : IFlowEngine, IReverseKlEngine
{
    /// <summary>Samples of the final measurement of a reverse-KL fit (at least; four times the evaluation samples when that is more).</summary>
    public const int FinalEvaluationSamples = 16_384;

    public IReadOnlyCollection<string> Types => FlowRecipes.Types;

    public (string Field, string Message)? Validate(JsonElement spec, int features, int contextFeatures)
    {
        try
        {
            FlowRecipes.Build(FlowSpec.From(spec), features, contextFeatures, seed: 0);
            return null;
        }
        catch (FlowSpecException e)
        {
            // "features" is the data's shape, not a spec field: the client fixes it through the dataset or contextColumns.
            return (e.Field == "features" ? "datasetId" : $"flow.{e.Field}", e.Message);
        }
    }

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

    public TargetFitOutcome FitTarget(TargetFitRun run, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var target = TargetSpec.From(run.Target);
        var density = target.Density;
        int d = density.Dimensions;
        var spec = FlowSpec.From(run.Spec);
        var flow = NormalizingFlow.Create(spec, d, 0, run.Parameters.Seed, generative: true);
        string fingerprint = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(string.Join('\n', "reverse-kl", spec.Json, run.Target.GetRawText(),
            JsonSerializer.Serialize(run.Parameters)))));
        var result = new ReverseKlTrainer(flow, run.Parameters, target).Train(observer, run.StateFolder, fingerprint, cancellationToken);
        flow.SetParameters(result.BestParameters);

        int samples = Math.Min(TargetSpec.MaxEvaluationSamples, Math.Max(FinalEvaluationSamples, 4 * target.EvaluationSamples));
        var noise = ReverseKlTrainer.Noise(samples * d, run.Parameters.Seed + 2 * ReverseKlTrainer.EvaluationSeedOffset);
        var statistics = ReverseKlTrainer.Evaluate(flow, density, noise, out var x, out var logQ);
        var (found, modes) = ModesFound(density, x, samples);
        var fit = new TargetFitMetrics(density.Name, d, statistics.LogZ, statistics.LogZStandardError, statistics.EffectiveSampleSize,
            statistics.ReverseKl, samples, density.LogNormalizer, found, modes);
        var columns = Enumerable.Range(0, d).Select(j => $"x{j}").ToArray();
        return new TargetFitOutcome(new TrainedFlow(flow, columns, []), result.EpochsRun, result.BestEpoch, fit, logQ);
    }

    /// <summary>
    /// For a mixture: components whose nearest-mean share of the samples is at least a tenth of their weight
    /// (a component the flow collapsed away gets next to nothing), out of all components; (null, null) otherwise.
    /// </summary>
    public static (int? Found, int? Modes) ModesFound(TargetDensity target, float[] x, int rows)
    {
        var means = target.Modes;
        if (means.Count == 0)
            return (null, null);
        int d = target.Dimensions;
        var counts = new int[means.Count];
        for (int r = 0; r < rows; r++)
        {
            int nearest = 0;
            double bestDistance = double.PositiveInfinity;
            for (int k = 0; k < means.Count; k++)
            {
                double distance = 0;
                for (int j = 0; j < d; j++)
                {
                    double delta = x[r * d + j] - means[k][j];
                    distance += delta * delta;
                }
                if (distance < bestDistance)
                    (bestDistance, nearest) = (distance, k);
            }
            counts[nearest]++;
        }
        int found = Enumerable.Range(0, means.Count).Count(k => counts[k] >= 0.1 * target.ModeWeights[k] * rows);
        return (found, means.Count);
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
            Generative = model.Generative,
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
        var flow = NormalizingFlow.Create(spec, info.Features, info.ContextFeatures, info.Seed, normalization, generative: info.Generative);
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
