using FlowService.Model.Transforms;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// The full-covariance Gaussian as a flow: ActNorm → <see cref="WhiteningLinear"/>, both fitted to
/// the training rows before the first step, so the untrained flow is the maximum-likelihood Gaussian
/// (what every other flow has to beat) and training only polishes it. {"type":"gaussian"}.
/// Unconditional.
/// </summary>
public sealed class GaussianRecipe : IFlowRecipe
{
    public string Type => "gaussian";

    public ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random)
    {
        RequireUnconditional(contextFeatures, Type);
        return new Chain(Whitening(features));
    }

    /// <summary>ActNorm then the whitening linear map: the data's Gaussian fit as the first two transforms of a chain.</summary>
    public static ITransform[] Whitening(int features) => [new ActNorm(features), new WhiteningLinear(features)];

    internal static void RequireUnconditional(int contextFeatures, string type)
    {
        if (contextFeatures > 0)
            throw new FlowSpecException("contextFeatures", $"A \"{type}\" flow has no conditioner to take context columns; use \"maf\" or \"nsf\" (with \"whiten\": true) for a conditional flow.");
    }
}
