using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// Glow (Kingma and Dhariwal 2018) for vectors: K steps of ActNorm → LU linear → affine coupling
/// (the coupling always keeps the first half: the LU layer already mixes the features, as in the PyTorch reference). The chain is flat, so step k's transforms are
/// <c>transforms.{3k}</c> (ActNorm), <c>transforms.{3k+1}</c> (LU), <c>transforms.{3k+2}</c> (coupling).
/// {"type":"glow","layers":4,"hidden":[128,128],"scaleClamp":3}; "layers" counts steps. With an
/// "image" field, the multi-scale convolutional Glow of <see cref="MultiScaleImageFlows.Glow"/>.
/// </summary>
public sealed class GlowRecipe : IFlowRecipe
{
    public string Type => "glow";

    public ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random)
    {
        if (ImageFlowOptions.TryRead(spec, features, contextFeatures, glow: true) is { } image)
            return MultiScaleImageFlows.Glow(image, random);
        var common = CommonOptions.Read(spec, contextFeatures, defaultLayers: 4, defaultHidden: new[] { 128, 128 });
        float scaleClamp = spec.GetFloat("scaleClamp", AffineLeaf.DefaultScaleClamp, 0f, 100f);
        NiceRecipe.RequireTwoFeatures(features, Type);
        var leaf = new AffineLeaf(scaleClamp);
        var chain = new List<ITransform>();
        for (int k = 0; k < common.Layers; k++)
        {
            chain.Add(new ActNorm(features));
            chain.Add(new LuLinear(features, random));
            var (identity, transformed) = Coupling.Halves(features, 0);
            chain.Add(new Coupling(identity, transformed, contextFeatures, common.Hidden, leaf, common.Activation, common.ZeroInit));
        }
        return new Chain(chain);
    }

    public FlowSize Estimate(FlowSpec spec, int features, int contextFeatures)
    {
        // Image flows (convolutions) and attention conditioners are counted from the built flow: small, and built in moments.
        if (spec.Contains("image") || spec.Contains("conditioner"))
            return FlowSize.Built(Build(spec, features, contextFeatures, new Random(0)), features);
        var common = CommonOptions.Read(spec, contextFeatures, defaultLayers: 4, defaultHidden: new[] { 128, 128 });
        spec.GetFloat("scaleClamp", AffineLeaf.DefaultScaleClamp, 0f, 100f);
        NiceRecipe.RequireTwoFeatures(features, Type);
        var (identity, transformed) = Coupling.Halves(features, 0);
        long d = features;
        var step = FlowSize.Transform(features, 2 * d)                   // ActNorm: shift, logScale
            + FlowSize.Transform(features, 2 * d * d + d)                // LU: lower, upper, logScale
            + FlowSize.Mlp(identity.Length + contextFeatures, common.Hidden, transformed.Length * 2) + FlowSize.Transform(features);
        return common.Layers * step;
    }
}
