using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FlowService.Model.Checkpoints;
using FlowService.Model.Distributions;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Flows;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Targets;
using FlowService.Model.Transforms;
using FlowService.Training.Registry;
using FlowService.Training.Images;

namespace FlowService.Training.Engine;

/// <summary>
/// The engine for every flow type of FlowService.Model's recipes (nice, realnvp, glow, maf, nsf, flowpp,
/// gaussian, gaussianization and their conditional variants) and for "auto" (<see cref="AutoFlowSearch"/>):
/// validates specs against the data shape, trains with <see cref="FlowTrainer"/> on the training rows
/// standardized per column (the standardization is the flow's first transform, so log p is a density in
/// the client's units), mixes in the <see cref="DefensiveMixture"/> chosen on the validation rows (unconditional flows), and
/// stores checkpoints in the safetensors + JSON format of <see cref="Checkpoint"/>. It also fits generative flows
/// of the same recipes to unnormalized densities by reverse KL (<see cref="FitTarget"/>, <see cref="ReverseKlTrainer"/>).
/// Flows are trained and loaded on <paramref name="backend"/> (the CPU unless the host selected another device); checkpoints go through the host.
/// </summary>
public sealed class NormalizingFlowEngine(IBackend? backend = null) : IFlowEngine, IReverseKlEngine
{
    /// <summary>The spec type that searches over candidates instead of training one flow.</summary>
    public const string AutoType = "auto";

    /// <summary>Samples of the final measurement of a reverse-KL fit (at least; four times the evaluation samples when that is more).</summary>
    public const int FinalEvaluationSamples = 16_384;

    /// <summary>The device this engine trains and loads flows on.</summary>
    public IBackend Backend { get; } = backend ?? CpuBackend.Instance;

    public IReadOnlyCollection<string> Types => [.. FlowRecipes.Types, AutoType];

    public (string Field, string Message)? Validate(JsonElement spec, int features, int contextFeatures)
    {
        try
        {
            // Arithmetic only: a spec of billions of parameters is refused without allocating them.
            var parsed = FlowSpec.From(spec);
            if (parsed.Type == AutoType)
                return ValidateAuto(parsed, features, contextFeatures);
            FlowRecipes.Estimate(parsed, features, contextFeatures);
            return null;
        }
        catch (FlowSpecException e)
        {
            // "features" is the data's shape, not a spec field: the client fixes it through the dataset or contextColumns.
            return (e.Field == "features" ? "datasetId" : $"flow.{e.Field}", e.Message);
        }
    }

    /// <summary>
    /// The spec's size; for "auto", its largest candidate's (the named ones, or the defaults at their largest, for a
    /// million rows, since the rows are not known when a job is queued).
    /// </summary>
    public FlowSize? Estimate(JsonElement spec, int features, int contextFeatures)
    {
        var parsed = FlowSpec.From(spec);
        if (parsed.Type != AutoType)
            return FlowRecipes.Estimate(parsed, features, contextFeatures);
        var candidates = parsed.GetSpecArray("candidates", 1, 16)
            ?? AutoFlowSearch.Candidates(1_000_000, features, contextFeatures, new Jobs.TrainingParameters()).Select(c => c.Spec).ToArray();
        return candidates.Select(c => FlowRecipes.Estimate(FlowSpec.From(c), features, contextFeatures)).MaxBy(size => size.Parameters);
    }

    public TrainingOutcome Train(TrainingRun run, ITrainingObserver observer, CancellationToken cancellationToken)
    {
        var data = run.Data;
        int features = data.FeatureColumns.Count, contextFeatures = data.ContextColumns.Count;
        // An image flow divides by its pixel range and applies the logit itself; 8-bit pixels are dequantized while training.
        bool image = run.Spec.ValueKind == JsonValueKind.Object && run.Spec.TryGetProperty("image", out _);
        var normalization = image ? null : Standardization.Fit(data.Train.Features, features);
        bool dequantize = image && ImageFlowSpec.IsDiscrete(data.Train.Features);
        var gaussian = image ? null : FullCovarianceGaussian.Fit(data.Train.Features, features);
        NormalizingFlow Build(FlowSpec spec) => NormalizingFlow.Create(spec, features, contextFeatures, run.Parameters.Seed, normalization, Backend);
        // The defensive component is of the modelled columns alone; mixed into a conditional density p(x | c) it would
        // floor every context's density at the same unconditional level and blunt what the context says, so
        // conditional flows are served as they are. Tables get the Gaussian of the training rows; image flows the
        // uniform density on their pixel cube (their dequantized pixels are what the flow models, and a D x D
        // covariance of hundreds of pixels would cost more than it floors). Its log density of the validation rows
        // is the same for every candidate: computed once.
        IDefensiveDensity? component = contextFeatures > 0 ? null
            : image ? new UniformCube(features, ImagePixelRange(run.Spec, features))
            : gaussian;
        double[]? componentValidation = component is null ? null : LogDensity(component, data.Validation);
        (DefensiveMixture? Mixture, float[] Served) Defend(float[] flowValidationLogProb)
        {
            if (componentValidation is null)
                return (null, flowValidationLogProb);
            var mixture = DefensiveMixture.Choose(component!, flowValidationLogProb, componentValidation);
            return (mixture, flowValidationLogProb.Select((f, r) => (float)mixture.Combine(f, componentValidation[r])).ToArray());
        }

        var spec = FlowSpec.From(run.Spec);
        if (spec.Type == AutoType)
        {
            // Folds of a cross-validated search get their own defensive Gaussian, fitted like the job's one (none where the job has none).
            FullCovarianceGaussian? FitGaussian(Jobs.DatasetSplit.Part part) => component is FullCovarianceGaussian ? FullCovarianceGaussian.Fit(part.Features, features) : null;
            var search = new AutoFlowSearch(Build, Defend, FitGaussian).Run(spec, data, run.Parameters, observer, run.StateFolder,
                candidate => Fingerprint(candidate, data, run), cancellationToken);
            return new TrainingOutcome(new TrainedFlow(search.Flow, data.FeatureColumns, data.ContextColumns, search.Defensive, search.Members),
                search.EpochsRun, search.BestEpoch, search.Selection, search.CrossValidated);
        }
        var flow = Build(spec);
        var result = new FlowTrainer(flow, run.Parameters, dequantize).Train(data.Train, data.Validation, observer, run.StateFolder,
            Fingerprint(spec, data, run), cancellationToken);
        flow.SetParameters(result.BestParameters);
        var defensive = Defend(AutoFlowSearch.LogProb(flow, data.Validation)).Mixture;
        return new TrainingOutcome(new TrainedFlow(flow, data.FeatureColumns, data.ContextColumns, defensive), result.EpochsRun, result.BestEpoch);
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
            // The flow's own spec: for an "auto" job, the chosen candidate's, which is what rebuilds the model.
            Spec = JsonNode.Parse(model.Spec.Json),
            Seed = model.Seed,
            Features = model.Features,
            ContextFeatures = model.ContextFeatures,
            ColumnNames = trained.Columns.ToArray(),
            ContextColumnNames = trained.ContextColumns.ToArray(),
            NormalizationMean = model.Normalization?.Mean.ToArray(),
            NormalizationStd = model.Normalization?.Std.ToArray(),
            DefensiveMixture = trained.Defensive switch
            {
                null => null,
                { Component: FullCovarianceGaussian g } d => new DefensiveMixtureInfo
                    { Kind = DefensiveMixtureInfo.GaussianKind, Weight = d.Weight, Mean = g.Mean.ToArray(), Cholesky = g.Cholesky.ToArray() },
                { Component: UniformCube u } d => new DefensiveMixtureInfo { Kind = DefensiveMixtureInfo.UniformKind, Weight = d.Weight, High = u.High },
                var d => throw new ArgumentException($"A checkpoint cannot record a defensive {d.Component.GetType().Name}.", nameof(flow)),
            },
            Generative = model.Generative,
        };
        if (trained.Members.Count == 1)
            Checkpoint.Save(folder, model.Layout, model.GetParameters(), info);
        else
        {
            // A committee (the fold models of a cross-validated search): one arena per member under its own prefix.
            info.Members = trained.Members.Count;
            info.FormatVersion = CheckpointInfo.CurrentFormatVersion;
            Checkpoint.Save(folder, trained.Members.SelectMany((member, m) => ParameterTensors.FromArena(member.Layout, member.GetParameters(), MemberPrefix(m))).ToArray(), info);
        }
        // The manifest lists the sha256 of the weights and of model.json: its own hash covers the whole checkpoint.
        return Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, ChecksummedDirectory.ManifestName))));
    }

    public IDensityFlow Load(string folder)
    {
        var checkpoint = Checkpoint.Load(folder);
        var info = checkpoint.Info;
        var spec = FlowSpec.Parse(info.Spec?.ToJsonString() ?? throw new CheckpointCorruptException($"Checkpoint {folder}: model.json has no spec."));
        var normalization = info.NormalizationMean is { } mean && info.NormalizationStd is { } std ? new Standardization(mean, std) : null;
        int count = info.Members ?? 1;
        if (info.Members is < 2 or > MaximumMembers)
            throw new CheckpointCorruptException($"Checkpoint {folder}: model.json lists {info.Members} members; a committee has 2 to {MaximumMembers}.");
        var members = new NormalizingFlow[count];
        for (int m = 0; m < count; m++)
        {
            // The seed rebuilds the same random permutations; the initial weights it draws are replaced at once.
            members[m] = NormalizingFlow.Create(spec, info.Features, info.ContextFeatures, info.Seed, normalization, Backend, generative: info.Generative);
            members[m].SetParameters(checkpoint.Parameters(members[m].Layout, info.Members is null ? "" : MemberPrefix(m)));
            // A loaded checkpoint is only ever run (IDensityFlow has no training): dense layers read transposed weights.
            members[m].FreezeForServing();
        }
        if (info.Members is not null && checkpoint.Weights.Tensors.Keys.FirstOrDefault(name => !Enumerable.Range(0, count).Any(m => name.StartsWith(MemberPrefix(m), StringComparison.Ordinal))) is { } stray)
            throw new CheckpointCorruptException($"Checkpoint {folder}: tensor '{stray}' belongs to none of its {count} members.");
        var defensive = info.DefensiveMixture is { } d ? ReadDefensive(d, info.Features, folder) : null;
        return new TrainedFlow(members[0], info.ColumnNames, info.ContextColumnNames, defensive, members);
    }

    /// <summary>The most flows a committee's checkpoint may hold: the most folds an "auto" search runs.</summary>
    public const int MaximumMembers = 10;

    /// <summary>The tensor-name prefix of member <paramref name="m"/> of a committee's checkpoint.</summary>
    private static string MemberPrefix(int m) => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"members.{m}.");

    /// <summary>The defensive component <c>model.json</c> records, checked against the flow it belongs to.</summary>
    private static DefensiveMixture ReadDefensive(DefensiveMixtureInfo d, int features, string folder)
    {
        string kind = d.Kind ?? DefensiveMixtureInfo.GaussianKind;
        if (!(d.Weight > 0 && d.Weight < 1))
            throw new CheckpointCorruptException($"Checkpoint {folder}: model.json's defensive mixture has weight {d.Weight}; it must lie in (0, 1).");
        try
        {
            return kind switch
            {
                DefensiveMixtureInfo.GaussianKind when d.Mean?.Length == features && d.Cholesky is not null =>
                    new DefensiveMixture(d.Weight, new FullCovarianceGaussian(d.Mean, d.Cholesky)),
                DefensiveMixtureInfo.GaussianKind =>
                    throw new CheckpointCorruptException($"Checkpoint {folder}: model.json's defensive Gaussian has {d.Mean?.Length ?? 0} means for {features} features."),
                DefensiveMixtureInfo.UniformKind when d.High is { } high => new DefensiveMixture(d.Weight, new UniformCube(features, high)),
                DefensiveMixtureInfo.UniformKind =>
                    throw new CheckpointCorruptException($"Checkpoint {folder}: model.json's defensive uniform cube has no \"high\" edge."),
                _ => throw new CheckpointCorruptException($"Checkpoint {folder}: model.json's defensive mixture has kind \"{kind}\"; expected \"gaussian\" or \"uniform\"."),
            };
        }
        catch (ArgumentException e)
        {
            throw new CheckpointCorruptException($"Checkpoint {folder}: model.json's defensive mixture is invalid: {e.Message}");
        }
    }

    /// <summary>The pixel range an image spec's flow divides by (ImageFlowOptions' "pixelRange", 256 when absent).</summary>
    private static double ImagePixelRange(JsonElement spec, int features)
    {
        var parsed = FlowSpec.From(spec);
        return ImageFlowOptions.TryRead(parsed, features, 0, glow: parsed.Type == "glow")?.PixelRange
            ?? throw new ArgumentException("Not an image flow spec.", nameof(spec));
    }

    private static double[] LogDensity(IDefensiveDensity component, Jobs.DatasetSplit.Part part)
    {
        var logProb = new double[part.Rows];
        component.LogDensity(part.Features, part.Rows, logProb);
        return logProb;
    }

    /// <summary>An "auto" spec's own fields and every candidate it names, each against the data shape.</summary>
    private static (string Field, string Message)? ValidateAuto(FlowSpec auto, int features, int contextFeatures)
    {
        auto.GetInt("budgetSeconds", AutoFlowSearch.DefaultBudgetSeconds, 1, 7 * 24 * 3600);
        AutoFlowSearch.ReadFolds(auto, 0);
        var candidates = auto.GetSpecArray("candidates", 1, 16);
        auto.RejectUnreadFields();
        for (int i = 0; i < (candidates?.Length ?? 0); i++)
        {
            try
            {
                var candidate = FlowSpec.From(candidates![i]);
                if (candidate.Type == AutoType)
                    return ($"flow.candidates[{i}].type", "A candidate cannot itself be \"auto\".");
                FlowRecipes.Estimate(candidate, features, contextFeatures);
            }
            catch (FlowSpecException e)
            {
                return (e.Field == "features" ? "datasetId" : $"flow.candidates[{i}].{e.Field}", e.Message);
            }
        }
        return null;
    }

    /// <summary>What a resumable state must match: the spec, the data's shape and columns, the seed and the training settings.</summary>
    private static string Fingerprint(FlowSpec spec, Jobs.DatasetSplit data, TrainingRun run)
    {
        string text = string.Join('\n', spec.Json, string.Join(',', data.FeatureColumns), string.Join(',', data.ContextColumns),
            data.Train.Rows, data.Validation.Rows, JsonSerializer.Serialize(run.Parameters));
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
