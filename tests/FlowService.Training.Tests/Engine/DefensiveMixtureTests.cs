using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Training.Engine;

namespace FlowService.Training.Tests.Engine;

/// <summary>
/// The served density (1 - ε) p_flow + ε N: exact log-sum-exp, the documented floor far from the data,
/// ε chosen on validation rows, and exact sampling from the mixture.
/// </summary>
public sealed class DefensiveMixtureTests
{
    static readonly FullCovarianceGaussian Gaussian = new([1.0, -2.0], [2.0, 0.0, 0.6, 0.5]);

    [Fact]
    public void Combine_is_the_log_of_the_mixture_density_in_double()
    {
        var mixture = new DefensiveMixture(0.03, Gaussian);
        foreach (var (flow, gaussian) in new[] { (-1.5, -2.0), (-300.0, -4.0), (5.0, -800.0), (double.NegativeInfinity, -3.0) })
        {
            double expected = Math.Log(0.97 * Math.Exp(flow) + 0.03 * Math.Exp(gaussian));
            if (!double.IsFinite(expected))
                expected = Math.Max(Math.Log(0.97) + flow, Math.Log(0.03) + gaussian);
            Assert.Equal(expected, mixture.Combine(flow, gaussian), 9);
        }
    }

    [Fact]
    public void A_flow_that_is_wrong_far_from_its_data_scores_no_lower_than_the_gaussian_minus_the_bound()
    {
        // A RealNVP with random (untrained) weights puts absurd log p on rows far from the origin.
        var flow = NormalizingFlow.Create("""{"type":"realnvp","layers":4,"hidden":[16]}""", 2, 0, seed: 3);
        var trained = new TrainedFlow(flow, ["a", "b"], [], new DefensiveMixture(DefensiveMixture.Weights[0], Gaussian));
        float[] far = [40f, -35f, -60f, 80f, 1f, -2f];
        var served = new float[3];
        trained.LogProb(far, 3, [], served);
        var gaussian = new double[3];
        Gaussian.LogDensity(far, 3, gaussian);
        for (int r = 0; r < 3; r++)
            Assert.True(served[r] >= gaussian[r] + DefensiveMixture.LowerBoundNats - 1e-3, $"row {r}: served {served[r]}, Gaussian {gaussian[r]}");
        Assert.Equal(-6.9078, DefensiveMixture.LowerBoundNats, 4);
    }

    [Fact]
    public void Choose_takes_the_weight_with_the_best_validation_mean_and_ties_go_to_the_smallest()
    {
        // The flow is right on three rows and absurd on one: a large ε pays.
        float[] flow = [-1f, -1.2f, -0.9f, -500f];
        double[] gaussian = [-1.5, -1.6, -1.4, -3.0];
        var chosen = DefensiveMixture.Choose(Gaussian, flow, gaussian);
        double Mean(double w) => Enumerable.Range(0, 4).Average(r => new DefensiveMixture(w, Gaussian).Combine(flow[r], gaussian[r]));
        Assert.Equal(DefensiveMixture.Weights.MaxBy(Mean), chosen.Weight);
        Assert.True(chosen.Weight >= 0.1);
        // Where the flow is always far better, the smallest ε is kept.
        Assert.Equal(DefensiveMixture.Weights[0], DefensiveMixture.Choose(Gaussian, [5f, 6f], [-10.0, -12.0]).Weight);
    }

    [Fact]
    public void Sampling_draws_from_the_mixture_with_the_chosen_weight_and_is_reproducible()
    {
        // A flow concentrated near (0, 0) (zero-initialised: the standard normal) and a Gaussian far away: each sample is
        // attributable, and the share of Gaussian draws estimates ε.
        var flow = NormalizingFlow.Create("""{"type":"realnvp","layers":2,"hidden":[8],"zeroInit":true}""", 2, 0, seed: 1);
        var far = new FullCovarianceGaussian([100.0, 100.0], [1.0, 0.0, 0.0, 1.0]);
        var trained = new TrainedFlow(flow, ["a", "b"], [], new DefensiveMixture(0.3, far));
        const int n = 20_000;
        var x = new float[2 * n];
        trained.Sample(n, seed: 4, temperature: 1f, [], x);
        int fromGaussian = Enumerable.Range(0, n).Count(r => x[2 * r] > 50);
        double share = fromGaussian / (double)n, standardError = Math.Sqrt(0.3 * 0.7 / n);
        Assert.True(Math.Abs(share - 0.3) < 4 * standardError, $"share of Gaussian draws {share:F4}");
        var meanFar = Enumerable.Range(0, n).Where(r => x[2 * r] > 50).Average(r => (double)x[2 * r + 1]);
        Assert.Equal(100, meanFar, 0);
        var again = new float[2 * n];
        trained.Sample(n, seed: 4, temperature: 1f, [], again);
        Assert.Equal(x, again);
    }
}
