using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// NSF (Durkan et al. 2019, "Neural Spline Flows"): rational-quadratic spline leaves with K bins
/// on [-B, B] and identity tails, either in couplings over alternating halves (variant
/// "coupling", RQ-NSF(C)) or in MADE autoregressive layers with reversals between them
/// ("autoregressive", RQ-NSF(AR)). {"type":"nsf","layers":6,"bins":8,"tailBound":5,
/// "hidden":[64,64],"variant":"coupling"}.
/// </summary>
public sealed class NsfRecipe : IFlowRecipe
{
    public string Type => "nsf";

    public ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random)
    {
        var (common, bins, tailBound, variant) = Read(spec, features, contextFeatures);
        var leaf = new RationalQuadraticSplineLeaf(bins, tailBound);
        var chain = new List<ITransform>();
        for (int i = 0; i < common.Layers; i++)
        {
            if (variant == "coupling")
            {
                var (identity, transformed) = Coupling.Halves(features, i);
                chain.Add(new Coupling(identity, transformed, contextFeatures, common.Hidden, leaf, common.Activation, common.ZeroInit));
                continue;
            }
            if (i > 0)
                chain.Add(Permutation.Reverse(features));
            chain.Add(new Autoregressive(features, contextFeatures, common.Hidden, leaf, common.Activation, common.ZeroInit));
        }
        return new Chain(chain);
    }

    public FlowSize Estimate(FlowSpec spec, int features, int contextFeatures)
    {
        var (common, bins, _, variant) = Read(spec, features, contextFeatures);
        int perFeature = 3 * bins - 1;
        if (variant == "coupling")
        {
            var size = new FlowSize();
            for (int i = 0; i < common.Layers; i++)
            {
                var (identity, transformed) = Coupling.Halves(features, i);
                size += FlowSize.Mlp(identity.Length + contextFeatures, common.Hidden, transformed.Length * perFeature) + FlowSize.Transform(features);
            }
            return size;
        }
        var layer = FlowSize.Made(features, contextFeatures, common.Hidden, perFeature) + FlowSize.Transform(features);
        return common.Layers * layer + (common.Layers - 1) * FlowSize.Transform(features);
    }

    private static (CommonOptions Common, int Bins, float TailBound, string Variant) Read(FlowSpec spec, int features, int contextFeatures)
    {
        var common = CommonOptions.Read(spec, contextFeatures, defaultLayers: 6, defaultHidden: new[] { 64, 64 });
        int bins = spec.GetInt("bins", 8, 2, 64);
        float tailBound = spec.GetFloat("tailBound", 5f, 0f, 1e4f);
        string variant = spec.GetChoice("variant", "coupling", "coupling", "autoregressive");
        if (variant == "coupling" && features < 2)
            throw new FlowSpecException("variant", "A coupling NSF needs at least 2 features; use \"variant\":\"autoregressive\".");
        return (common, bins, tailBound, variant);
    }
}
