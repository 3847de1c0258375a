using FlowService.Model.Distributions;
using FlowService.Model.Transforms;

namespace FlowService.Model.Flows.Recipes;

/// <summary>The registry of flow types: one line per recipe.</summary>
public static class FlowRecipes
{
    private static readonly Dictionary<string, IFlowRecipe> Recipes = new IFlowRecipe[]
    {
        new MafRecipe(),
        new NsfRecipe(),
        new NiceRecipe(),
        new RealNvpRecipe(),
        new GlowRecipe(),
        new GaussianRecipe(),
        new GaussianizationRecipe(),
        new FlowPlusPlusRecipe(),
    }.ToDictionary(r => r.Type, StringComparer.Ordinal);

    public static IReadOnlyCollection<string> Types => Recipes.Keys;

    /// <summary>The transform chain of <see cref="BuildFlow"/> (the whole spec is validated, its "base" included).</summary>
    public static ITransform Build(FlowSpec spec, int features, int contextFeatures, int seed) =>
        BuildFlow(spec, features, contextFeatures, seed).Transform;

    /// <summary>
    /// Builds and validates: unknown type, out-of-range or unknown fields throw <see cref="FlowSpecException"/> naming the field.
    /// Every type takes <c>"whiten": true</c>, which puts the data's full-covariance Gaussian fit (ActNorm →
    /// <see cref="WhiteningLinear"/>) in front of the recipe's chain: with "zeroInit" the untrained flow is that Gaussian;
    /// and an optional "base" section (<see cref="BaseDistributionRecipe"/>), N(0, I) when absent.
    /// </summary>
    public static (ITransform Transform, IBaseDistribution Base) BuildFlow(FlowSpec spec, int features, int contextFeatures, int seed)
    {
        if (features < 1)
            throw new FlowSpecException("features", $"A flow needs at least one feature, not {features}.");
        if (!Recipes.TryGetValue(spec.Type, out var recipe))
            throw new FlowSpecException("type", $"Unknown flow type \"{spec.Type}\"; known: {string.Join(", ", Recipes.Keys.Order())}.");
        var transform = recipe.Build(spec, features, contextFeatures, new Random(seed));
        if (spec.Type is not ("gaussian" or "gaussianization") && spec.GetBool("whiten", false))
            transform = new Chain([.. GaussianRecipe.Whitening(features), transform]);
        var baseDistribution = BaseDistributionRecipe.Build(spec, features, seed);
        spec.RejectUnreadFields();
        return (transform, baseDistribution);
    }

    /// <summary>Validates like <see cref="Build"/> (same exceptions) and returns the flow's size, allocating nothing of the flow.</summary>
    public static FlowSize Estimate(FlowSpec spec, int features, int contextFeatures)
    {
        if (features < 1)
            throw new FlowSpecException("features", $"A flow needs at least one feature, not {features}.");
        if (!Recipes.TryGetValue(spec.Type, out var recipe))
            throw new FlowSpecException("type", $"Unknown flow type \"{spec.Type}\"; known: {string.Join(", ", Recipes.Keys.Order())}.");
        var size = recipe.Estimate(spec, features, contextFeatures);
        if (spec.Type is not ("gaussian" or "gaussianization") && spec.GetBool("whiten", false))
            size += FlowSize.Transform(features, 2L * features) + FlowSize.Transform(features, 2L * features * features + features);
        // The base's parameters are K·D-sized (K·D² with full covariances): declared, never allocated here.
        var layout = new Parameters.ParameterLayout();
        BaseDistributionRecipe.Build(spec, features, seed: 0).DeclareParameters(layout.Scope("base"));
        size += new FlowSize(layout.Length, 0, 2L * features + 1);
        spec.RejectUnreadFields();
        return size;
    }
}
