using FlowService.Model.Distributions;

namespace FlowService.Training.Engine;

/// <summary>
/// The served density p(x) = (1 - ε) p_flow(x) + ε q(x), with ε chosen on the validation rows from <see cref="Weights"/>
/// and q a simple density of the data's units: for tables the full-covariance Gaussian fitted to the training rows, for
/// image flows the uniform density on the pixel cube [0, pixelRange)^D (<see cref="UniformCube"/>). A flow is free to
/// be wrong far from its training data (an affine coupling's scale grows exponentially there), which shows as absurd
/// scores on ordinary inputs: log p of -10⁵ on a table row, thousands of bits/dim on an ordinary test image. The
/// mixture bounds every score from below by q's: log p(x) ≥ log ε + log q(x) ≥ log q(x) - 6.91 for the smallest ε =
/// 0.001 (an image then costs at most 8 + 9.97/D bits/dim), and costs at most -log(1 - ε) where the flow is right.
/// Sampling stays exact (a row is q's with probability ε, else the flow's).
/// </summary>
public sealed record DefensiveMixture(double Weight, IDefensiveDensity Component)
{
    /// <summary>The ε tried on validation; the smallest fixes the documented lower bound, log(0.001) = -6.91 nats.</summary>
    public static readonly double[] Weights = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3];

    /// <summary>log p(x) - log q(x) is never below this: log of the smallest weight.</summary>
    public static double LowerBoundNats => Math.Log(Weights[0]);

    /// <summary>log((1 - ε) e^flow + ε e^component), stable for either term being -∞.</summary>
    public double Combine(double flowLogProb, double componentLogProb)
    {
        double a = Math.Log(1 - Weight) + (double.IsNaN(flowLogProb) ? double.NegativeInfinity : flowLogProb);
        double b = Math.Log(Weight) + componentLogProb;
        double max = Math.Max(a, b);
        if (double.IsNegativeInfinity(max))
            return double.NegativeInfinity;
        return max + Math.Log(Math.Exp(a - max) + Math.Exp(b - max));
    }

    /// <summary>The ε of <see cref="Weights"/> with the best mean log p on the validation rows (ties: the smaller ε).</summary>
    public static DefensiveMixture Choose(IDefensiveDensity component, ReadOnlySpan<float> flowLogProb, ReadOnlySpan<double> componentLogProb)
    {
        DefensiveMixture? best = null;
        double bestMean = double.NegativeInfinity;
        foreach (double weight in Weights)
        {
            var candidate = new DefensiveMixture(weight, component);
            double sum = 0;
            for (int r = 0; r < flowLogProb.Length; r++)
                sum += candidate.Combine(flowLogProb[r], componentLogProb[r]);
            double mean = sum / Math.Max(1, flowLogProb.Length);
            if (best is null || mean > bestMean + 1e-12)
                (best, bestMean) = (candidate, mean);
        }
        return best!;
    }
}
