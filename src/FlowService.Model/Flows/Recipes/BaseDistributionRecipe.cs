using FlowService.Model.Distributions;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// Reads the spec's optional "base" section, shared by every flow type: absent or {"components": 1} is N(0, I);
/// {"components": K, "covariance": "full" | "diagonal", "shrinkage": λ} with K of 2 to 64 is a
/// <see cref="GaussianMixtureBase"/> ("full" by default) whose parameters are trained with the transforms and start
/// from a mixture fitted to the latent codes of the first training rows, its covariances shrunk by λ (0 ≤ λ &lt; 1,
/// default 0) toward the covariance of all those rows.
/// </summary>
public static class BaseDistributionRecipe
{
    public const int MaxComponents = 64;

    public static IBaseDistribution Build(FlowSpec spec, int features, int seed)
    {
        var section = spec.GetSection("base");
        if (section is null)
            return StandardNormal.Instance;
        int components = section.GetInt("components", 1, 1, MaxComponents);
        string covariance = section.GetChoice("covariance", "", "full", "diagonal");
        float shrinkage = section.GetFloat("shrinkage", 0f, float.NegativeInfinity, 0.99f);
        if (shrinkage < 0)
            throw new FlowSpecException("base.shrinkage", $"'base.shrinkage' must be between 0 and 0.99, not {shrinkage}.");
        section.RejectUnreadFields();
        if (components == 1)
        {
            if (covariance.Length > 0 || shrinkage > 0)
                throw new FlowSpecException(covariance.Length > 0 ? "base.covariance" : "base.shrinkage",
                    $"'{(covariance.Length > 0 ? "base.covariance" : "base.shrinkage")}' applies to a mixture base (2 or more components); with one component the base is N(0, I).");
            return StandardNormal.Instance;
        }
        return new GaussianMixtureBase(features, components, diagonal: covariance == "diagonal", shrinkage, seed);
    }
}
