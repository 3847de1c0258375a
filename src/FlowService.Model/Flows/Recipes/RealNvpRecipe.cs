using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// RealNVP (Dinh et al. 2017, "Density estimation using Real NVP"): affine couplings over
/// alternating halves with the soft-clamped scale. {"type":"realnvp","layers":8,
/// "hidden":[128,128],"activation":"relu","scaleClamp":3}; "conditioner":"attention" (<see cref="ConditionerOptions"/>). With an "image" field,
/// the multi-scale convolutional architecture of <see cref="MultiScaleImageFlows.RealNvp"/> (<see cref="ImageFlowOptions"/>).
/// </summary>
public sealed class RealNvpRecipe : IFlowRecipe
{
    public string Type => "realnvp";

    public ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random)
    {
        if (ImageFlowOptions.TryRead(spec, features, contextFeatures, glow: false) is { } image)
            return MultiScaleImageFlows.RealNvp(image);
        var common = CommonOptions.Read(spec, contextFeatures, defaultLayers: 8, defaultHidden: new[] { 128, 128 });
        float scaleClamp = spec.GetFloat("scaleClamp", AffineLeaf.DefaultScaleClamp, 0f, 100f);
        var conditioner = ConditionerOptions.Read(spec);
        NiceRecipe.RequireTwoFeatures(features, Type);
        var leaf = new AffineLeaf(scaleClamp);
        var chain = new List<ITransform>();
        for (int i = 0; i < common.Layers; i++)
        {
            var (identity, transformed) = Coupling.Halves(features, i);
            chain.Add(conditioner.Coupling(identity, transformed, contextFeatures, common, leaf));
        }
        return new Chain(chain);
    }

    public FlowSize Estimate(FlowSpec spec, int features, int contextFeatures)
    {
        // Image flows (convolutions) and attention conditioners are counted from the built flow: small, and built in moments.
        if (spec.Contains("image") || spec.Contains("conditioner"))
            return FlowSize.Built(Build(spec, features, contextFeatures, new Random(0)), features);
        var common = CommonOptions.Read(spec, contextFeatures, defaultLayers: 8, defaultHidden: new[] { 128, 128 });
        spec.GetFloat("scaleClamp", AffineLeaf.DefaultScaleClamp, 0f, 100f);
        NiceRecipe.RequireTwoFeatures(features, Type);
        return NiceRecipe.Couplings(common, features, contextFeatures, valuesPerFeature: 2);
    }
}
