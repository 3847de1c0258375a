using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// Flow++'s coupling for vector data (Ho et al. 2019): logistic-mixture CDF couplings over alternating halves, as
/// RealNVP's affine couplings are laid out. {"type":"flowpp","layers":8,"hidden":[64,64],"components":8,"scaleClamp":3}.
/// </summary>
public sealed class FlowPlusPlusRecipe : IFlowRecipe
{
    public string Type => "flowpp";

    public ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random)
    {
        var common = CommonOptions.Read(spec, contextFeatures, defaultLayers: 8, defaultHidden: new[] { 64, 64 });
        int components = spec.GetInt("components", 8, 1, LogisticMixtureCdfLeaf.MaxComponents);
        float scaleClamp = spec.GetFloat("scaleClamp", AffineLeaf.DefaultScaleClamp, 0f, 100f);
        if (!(scaleClamp > 0f))
            throw new FlowSpecException("scaleClamp", "'scaleClamp' must be positive.");
        var conditioner = ConditionerOptions.Read(spec);
        NiceRecipe.RequireTwoFeatures(features, Type);
        var leaf = new LogisticMixtureCdfLeaf(components, scaleClamp);
        var chain = new List<ITransform>();
        for (int i = 0; i < common.Layers; i++)
        {
            var (identity, transformed) = Coupling.Halves(features, i);
            chain.Add(conditioner.Coupling(identity, transformed, contextFeatures, common, leaf));
        }
        return new Chain(chain);
    }
}
