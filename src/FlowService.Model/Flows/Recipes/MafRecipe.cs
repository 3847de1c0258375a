using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// MAF (Papamakarios et al. 2017, "Masked Autoregressive Flow for Density Estimation"): layers of
/// MADE-conditioned affine autoregressive transforms with a feature permutation between
/// consecutive layers. {"type":"maf","layers":5,"hidden":[64,64],"activation":"relu",
/// "scaleClamp":3,"permutation":"reverse"|"random"}.
/// </summary>
public sealed class MafRecipe : IFlowRecipe
{
    public string Type => "maf";

    public ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random)
    {
        var (common, scaleClamp, permutation) = Read(spec, contextFeatures);
        var leaf = new AffineLeaf(scaleClamp);
        var chain = new List<ITransform>();
        for (int i = 0; i < common.Layers; i++)
        {
            if (i > 0)
                chain.Add(permutation == "random" ? Permutation.Random(features, random) : Permutation.Reverse(features));
            chain.Add(new Autoregressive(features, contextFeatures, common.Hidden, leaf, common.Activation, common.ZeroInit));
        }
        return new Chain(chain);
    }

    public FlowSize Estimate(FlowSpec spec, int features, int contextFeatures)
    {
        var (common, _, _) = Read(spec, contextFeatures);
        var layer = FlowSize.Made(features, contextFeatures, common.Hidden, 2) + FlowSize.Transform(features);
        return common.Layers * layer + (common.Layers - 1) * FlowSize.Transform(features);
    }

    private static (CommonOptions Common, float ScaleClamp, string Permutation) Read(FlowSpec spec, int contextFeatures) =>
        (CommonOptions.Read(spec, contextFeatures, defaultLayers: 5, defaultHidden: new[] { 64, 64 }),
         spec.GetFloat("scaleClamp", AffineLeaf.DefaultScaleClamp, 0f, 100f),
         spec.GetChoice("permutation", "reverse", "reverse", "random"));
}
