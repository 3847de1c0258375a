using FlowService.Model.Transforms;

namespace FlowService.Model.Flows.Recipes;

/// <summary>Builds the transform chain of one flow type from its spec (zuko's "recipes": a named flow is a short composition).</summary>
public interface IFlowRecipe
{
    /// <summary>The spec's "type".</summary>
    string Type { get; }

    /// <summary>The chain for <paramref name="features"/> data and <paramref name="contextFeatures"/> context features; reads (and so validates) the spec's fields.</summary>
    ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random);

    /// <summary>
    /// The flow's size from the spec alone, reading (and so validating) the same fields as <see cref="Build"/>, without
    /// allocating the flow: what the service checks against its budgets before accepting a job or loading a model.
    /// This default builds the flow and counts its layout; a recipe overrides it with arithmetic so that a huge spec is
    /// refused cheaply.
    /// </summary>
    FlowSize Estimate(FlowSpec spec, int features, int contextFeatures)
    {
        var transform = Build(spec, features, contextFeatures, new Random(0));
        var layout = new Parameters.ParameterLayout();
        transform.DeclareParameters(layout.Scope(""));
        return new FlowSize(layout.Length, 0, 8L * features);
    }
}
