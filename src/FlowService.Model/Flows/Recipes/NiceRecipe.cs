using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// NICE (Dinh et al. 2014, "NICE: Non-linear Independent Components Estimation"): additive
/// couplings over alternating halves (volume preserving), then the paper's diagonal scaling layer
/// exp(s) (section 3.3), without which the flow could not change volume and so could not fit a
/// density whose log|det| after standardization is not zero (any correlated Gaussian, for one).
/// The couplings are <c>transforms.{0..layers-1}</c>, the scaling <c>transforms.{layers}.logScale</c>.
/// {"type":"nice","layers":4,"hidden":[128,128]}.
/// </summary>
public sealed class NiceRecipe : IFlowRecipe
{
    public string Type => "nice";

    public ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random)
    {
        var common = CommonOptions.Read(spec, contextFeatures, defaultLayers: 4, defaultHidden: new[] { 128, 128 });
        RequireTwoFeatures(features, Type);
        var leaf = new AdditiveLeaf();
        var chain = new List<ITransform>();
        for (int i = 0; i < common.Layers; i++)
        {
            var (identity, transformed) = Coupling.Halves(features, i);
            chain.Add(new Coupling(identity, transformed, contextFeatures, common.Hidden, leaf, common.Activation, common.ZeroInit));
        }
        chain.Add(new DiagonalScaling(features));
        return new Chain(chain);
    }

    public FlowSize Estimate(FlowSpec spec, int features, int contextFeatures)
    {
        var common = CommonOptions.Read(spec, contextFeatures, defaultLayers: 4, defaultHidden: new[] { 128, 128 });
        RequireTwoFeatures(features, Type);
        return Couplings(common, features, contextFeatures, valuesPerFeature: 1) + FlowSize.Transform(features, features);
    }

    /// <summary>Alternating-halves couplings of <paramref name="common"/>'s layers, each an MLP conditioner.</summary>
    internal static FlowSize Couplings(CommonOptions common, int features, int contextFeatures, int valuesPerFeature)
    {
        var size = new FlowSize();
        for (int i = 0; i < common.Layers; i++)
        {
            var (identity, transformed) = Coupling.Halves(features, i);
            size += FlowSize.Mlp(identity.Length + contextFeatures, common.Hidden, transformed.Length * valuesPerFeature) + FlowSize.Transform(features);
        }
        return size;
    }

    internal static void RequireTwoFeatures(int features, string type)
    {
        if (features < 2)
            throw new FlowSpecException("features", $"A \"{type}\" flow couples halves of the features and needs at least 2, not {features}.");
    }
}
