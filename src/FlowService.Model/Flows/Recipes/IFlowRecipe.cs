using FlowService.Model.Transforms;

namespace FlowService.Model.Flows.Recipes;

/// <summary>Builds the transform chain of one flow type from its spec (zuko's "recipes": a named flow is a short composition).</summary>
public interface IFlowRecipe
{
    /// <summary>The spec's "type".</summary>
    string Type { get; }

    /// <summary>The chain for <paramref name="features"/> data and <paramref name="contextFeatures"/> context features; reads (and so validates) the spec's fields.</summary>
    ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random);
}
