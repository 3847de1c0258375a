using FlowService.Training.Jobs;
using Xunit.Abstractions;

namespace FlowService.Training.Tests.Fitting;

/// <summary>
/// Every flow type, trained by the service's trainer on an 8-D normal with a dense covariance,
/// reaches the analytic entropy. -log p of the true density has standard deviation sqrt(D/2) = 2
/// nats per row, so a held-out mean over n rows is only known to about 2/sqrt(n); the 0.05-nat
/// requirement is therefore checked on the model error alone, mean over the test rows of
/// -log p_flow + log p_true (whose spread is far smaller, since both terms move together), and the
/// closed-form entropy is checked with the test mean's own standard error added to the tolerance.
/// </summary>
public sealed class GaussianFittingTests(ITestOutputHelper output) : IDisposable
{
    const int Dimension = 8, TrainRows = 40_000, ValidationRows = 5_000, TestRows = 40_000;
    const double Tolerance = 0.05;

    static readonly DenseGaussian Truth = new(Dimension, seed: 2024);
    static readonly float[] Rows = Truth.Sample(TrainRows + ValidationRows + TestRows, seed: 7);

    readonly string _root = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    /// <summary>
    /// Small conditioners: the target is nearly linear, and with 40,000 rows the estimation error of
    /// wider ones (more weights to overfit) is what kept them from the tolerance, not their capacity.
    /// </summary>
    public static TheoryData<string, string> Specs => new()
    {
        { "nice", """{"type":"nice","layers":6,"hidden":[32,32]}""" },
        { "realnvp", """{"type":"realnvp","layers":6,"hidden":[32,32]}""" },
        { "glow", """{"type":"glow","layers":4,"hidden":[32,32]}""" },
        { "maf", """{"type":"maf","layers":4,"hidden":[32,32]}""" },
        { "nsf", """{"type":"nsf","layers":6,"hidden":[16],"bins":4,"tailBound":6}""" },
    };

    static readonly TrainingParameters Budget = new() { Epochs = 20, BatchSize = 256, LearningRate = 2e-3, Patience = 10, Seed = 1 };

    [Fact]
    public void The_generated_gaussian_is_correlated_and_its_samples_have_the_analytic_entropy()
    {
        // Far more than the tolerance is lost by a flow that only standardizes: the couplings must learn the correlations.
        Assert.True(Truth.TotalCorrelation() > 20 * Tolerance, $"total correlation {Truth.TotalCorrelation():F3} nats");
        var (mean, standardError) = TrueNll(TrainRows + ValidationRows, TestRows);
        output.WriteLine($"entropy {Truth.Entropy:F4}, total correlation {Truth.TotalCorrelation():F4}, true NLL on the test rows {mean:F4} ± {standardError:F4}");
        Assert.InRange(standardError, 0.8 * 2 / Math.Sqrt(TestRows), 1.2 * 2 / Math.Sqrt(TestRows));
        Assert.True(Math.Abs(mean - Truth.Entropy) <= 4 * standardError, $"true NLL {mean:F4} vs entropy {Truth.Entropy:F4}");
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Each_flow_type_reaches_the_analytic_entropy(string type, string spec)
    {
        var split = FittingRun.ContiguousSplit(Rows, Dimension, TrainRows, ValidationRows, TestRows);
        var result = FittingRun.Train(spec, split, Budget, Path.Combine(_root, type));

        var excess = new double[TestRows];
        for (int r = 0; r < TestRows; r++)
            excess[r] = -result.TestLogProb[r] + Truth.LogDensity(Rows.AsSpan((TrainRows + ValidationRows + r) * Dimension, Dimension));
        var (modelError, modelErrorSe) = MeanAndStandardError(excess);
        var (trueNll, trueNllSe) = TrueNll(TrainRows + ValidationRows, TestRows);
        double nll = result.TestNll;
        output.WriteLine($"{type}: test NLL {nll:F4}, true density on the same rows {trueNll:F4} ± {trueNllSe:F4}, entropy {Truth.Entropy:F4}; " +
            $"model error {modelError:F4} ± {modelErrorSe:F4}; {result.EpochsRun} epochs (best {result.BestEpoch}), {result.Seconds:F1} s");

        Assert.True(Math.Abs(modelError) <= Tolerance, $"{type}: held-out NLL exceeds the true density's by {modelError:F4} nats (> {Tolerance})");
        double entropyTolerance = Tolerance + 3 * trueNllSe;
        Assert.True(Math.Abs(nll - Truth.Entropy) <= entropyTolerance,
            $"{type}: held-out NLL {nll:F4} is {nll - Truth.Entropy:F4} from the entropy {Truth.Entropy:F4} (tolerance {entropyTolerance:F4})");
    }

    /// <summary>
    /// Issue 11's goal for the defaults: a job that names no flow ("auto", default training settings) on 20,000 rows
    /// (the service's own 80/10/10 split) is within 0.05 nats of the entropy, and its log p ranks rows as the true
    /// density does (correlation at least 0.995 over the held-out rows).
    /// </summary>
    [Fact]
    public void The_default_flow_reaches_the_entropy_and_follows_the_true_density_row_by_row()
    {
        const int rows = 20_000;
        var table = new FlowService.Training.Datasets.NumericTable(Enumerable.Range(0, Dimension).Select(j => $"x{j}").ToArray(), rows,
            Rows.AsSpan(0, rows * Dimension).ToArray().Select(v => (double)v).ToArray());
        var parameters = new TrainingParameters();
        var split = DatasetSplit.Create(table, [], parameters.ValidationFraction, parameters.TestFraction, parameters.Seed);
        var result = FittingRun.Train("""{"type":"auto"}""", split, parameters, Path.Combine(_root, "auto"));

        int test = split.Test.Rows;
        var truth = Enumerable.Range(0, test).Select(r => Truth.LogDensity(split.Test.Features.AsSpan(r * Dimension, Dimension))).ToArray();
        var model = result.TestLogProb.Select(v => (double)v).ToArray();
        double correlation = Correlation(model, truth);
        var excess = model.Zip(truth, (m, t) => t - m).ToArray();
        var (modelError, modelErrorSe) = MeanAndStandardError(excess);
        var (trueNll, trueNllSe) = MeanAndStandardError(truth.Select(t => -t).ToArray());
        output.WriteLine($"auto: test NLL {result.TestNll:F4} (true density {trueNll:F4} ± {trueNllSe:F4}, entropy {Truth.Entropy:F4}), " +
            $"model error {modelError:F4} ± {modelErrorSe:F4}, corr(log p, true log p) {correlation:F5}, {result.Seconds:F1} s");
        Assert.True(Math.Abs(modelError) <= Tolerance, $"auto: held-out NLL exceeds the true density's by {modelError:F4} nats");
        Assert.True(Math.Abs(result.TestNll - Truth.Entropy) <= Tolerance + 3 * trueNllSe, $"auto: held-out NLL {result.TestNll:F4} vs entropy {Truth.Entropy:F4}");
        Assert.True(correlation >= 0.995, $"auto: corr(log p, true log p) = {correlation:F5}");
    }

    static double Correlation(double[] a, double[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            sab += (a[i] - ma) * (b[i] - mb);
            saa += (a[i] - ma) * (a[i] - ma);
            sbb += (b[i] - mb) * (b[i] - mb);
        }
        return sab / Math.Sqrt(saa * sbb);
    }

    static (double Mean, double StandardError) TrueNll(int firstRow, int rows)
    {
        var nll = new double[rows];
        for (int r = 0; r < rows; r++)
            nll[r] = -Truth.LogDensity(Rows.AsSpan((firstRow + r) * Dimension, Dimension));
        return MeanAndStandardError(nll);
    }

    static (double Mean, double StandardError) MeanAndStandardError(double[] values)
    {
        double mean = values.Average();
        double variance = values.Sum(v => (v - mean) * (v - mean)) / (values.Length - 1);
        return (mean, Math.Sqrt(variance / values.Length));
    }
}
