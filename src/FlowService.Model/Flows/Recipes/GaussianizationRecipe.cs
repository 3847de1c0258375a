using FlowService.Model.Transforms;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// A Gaussianization flow (Meng et al. 2020, "Gaussianization Flows"): "layers" blocks of
/// per-feature rational-quadratic splines (<see cref="ElementwiseSpline"/>, K bins on [-B, B]) and
/// a whitening linear map (ActNorm → <see cref="WhiteningLinear"/>, fitted to the data that reaches
/// it), closed by a last spline layer. Every spline starts as the identity, so the untrained flow is
/// the full-covariance Gaussian fit; training then reshapes the marginals and their dependence.
/// With d · (3K - 1) + d² parameters per block it suits small tabular sets where conditioner
/// networks overfit. {"type":"gaussianization","layers":2,"bins":8,"tailBound":5}. Unconditional.
/// </summary>
public sealed class GaussianizationRecipe : IFlowRecipe
{
    public string Type => "gaussianization";

    public ITransform Build(FlowSpec spec, int features, int contextFeatures, Random random)
    {
        GaussianRecipe.RequireUnconditional(contextFeatures, Type);
        int layers = spec.GetInt("layers", 2, 1, 16);
        int bins = spec.GetInt("bins", 8, 2, 64);
        float tailBound = spec.GetFloat("tailBound", 5f, 0f, 1e4f);
        var chain = new List<ITransform>();
        for (int i = 0; i < layers; i++)
        {
            chain.Add(new ElementwiseSpline(features, bins, tailBound));
            chain.AddRange(GaussianRecipe.Whitening(features));
        }
        chain.Add(new ElementwiseSpline(features, bins, tailBound));
        return new Chain(chain);
    }
}
