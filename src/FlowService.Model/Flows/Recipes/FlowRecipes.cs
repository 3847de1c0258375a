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
    }.ToDictionary(r => r.Type, StringComparer.Ordinal);

    public static IReadOnlyCollection<string> Types => Recipes.Keys;

    /// <summary>Builds and validates: unknown type, out-of-range or unknown fields throw <see cref="FlowSpecException"/> naming the field.</summary>
    public static ITransform Build(FlowSpec spec, int features, int contextFeatures, int seed)
    {
        if (features < 1)
            throw new FlowSpecException("features", $"A flow needs at least one feature, not {features}.");
        if (!Recipes.TryGetValue(spec.Type, out var recipe))
            throw new FlowSpecException("type", $"Unknown flow type \"{spec.Type}\"; known: {string.Join(", ", Recipes.Keys.Order())}.");
        var transform = recipe.Build(spec, features, contextFeatures, new Random(seed));
        spec.RejectUnreadFields();
        return transform;
    }

    /// <summary>Validates like <see cref="Build"/> (same exceptions) and returns the flow's size, allocating nothing of the flow.</summary>
    public static FlowSize Estimate(FlowSpec spec, int features, int contextFeatures)
    {
        if (features < 1)
            throw new FlowSpecException("features", $"A flow needs at least one feature, not {features}.");
        if (!Recipes.TryGetValue(spec.Type, out var recipe))
            throw new FlowSpecException("type", $"Unknown flow type \"{spec.Type}\"; known: {string.Join(", ", Recipes.Keys.Order())}.");
        var size = recipe.Estimate(spec, features, contextFeatures);
        spec.RejectUnreadFields();
        return size;
    }
}
