using FlowService.Model.Distributions;

namespace FlowService.Training.Engine;

/// <summary>
/// The served density p(x) = (1 - ε) p_flow(x) + ε N(x; μ, Σ), with N the full-covariance Gaussian
/// fitted to the training rows and ε chosen on the validation rows from <see cref="Weights"/>. A flow
/// is free to be wrong far from its training data (an affine coupling's scale grows exponentially
/// there), which shows as absurd scores (log p of -10⁵) on ordinary rows; the mixture bounds every
/// score from below by the Gaussian's: log p(x) ≥ log ε + log N(x; μ, Σ) ≥ log N(x; μ, Σ) - 6.91 for
/// the smallest ε = 0.001, and costs at most -log(1 - ε) where the flow is right. Sampling stays
/// exact (a row is the Gaussian's with probability ε, else the flow's).
/// </summary>
public sealed record DefensiveMixture(double Weight, FullCovarianceGaussian Gaussian)
{
    /// <summary>The ε tried on validation; the smallest fixes the documented lower bound, log(0.001) = -6.91 nats.</summary>
    public static readonly double[] Weights = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3];

    /// <summary>log p(x) - log N(x; μ, Σ) is never below this: log of the smallest weight.</summary>
    public static double LowerBoundNats => Math.Log(Weights[0]);

    /// <summary>log((1 - ε) e^flow + ε e^gaussian), stable for either term being -∞.</summary>
    public double Combine(double flowLogProb, double gaussianLogProb)
    {
        double a = Math.Log(1 - Weight) + (double.IsNaN(flowLogProb) ? double.NegativeInfinity : flowLogProb);
        double b = Math.Log(Weight) + gaussianLogProb;
        double max = Math.Max(a, b);
        return max + Math.Log(Math.Exp(a - max) + Math.Exp(b - max));
    }

    /// <summary>The ε of <see cref="Weights"/> with the best mean log p on the validation rows (ties: the smaller ε).</summary>
    public static DefensiveMixture Choose(FullCovarianceGaussian gaussian, ReadOnlySpan<float> flowLogProb, ReadOnlySpan<double> gaussianLogProb)
    {
        DefensiveMixture? best = null;
        double bestMean = double.NegativeInfinity;
        foreach (double weight in Weights)
        {
            var candidate = new DefensiveMixture(weight, gaussian);
            double sum = 0;
            for (int r = 0; r < flowLogProb.Length; r++)
                sum += candidate.Combine(flowLogProb[r], gaussianLogProb[r]);
            double mean = sum / Math.Max(1, flowLogProb.Length);
            if (best is null || mean > bestMean + 1e-12)
                (best, bestMean) = (candidate, mean);
        }
        return best!;
    }
}
