using System.Text.Json;

namespace FlowService.Api.Tests.Quality;

/// <summary>
/// The figures of tools/reference/density_baselines.py for one suite set (committed in
/// density_baselines.json): held-out mean log-likelihood per row of the full-covariance Gaussian, of
/// GaussianMixture (components by 5-fold CV) and of a Gaussian KDE (bandwidth by CV), and their anomaly
/// AUROCs on the class-held-out split, plus the sha256 of the float32 rows they were computed on.
/// </summary>
public sealed record ClassicalBaselines(string TrainSha256, string TestSha256, double Gaussian, double Gmm, int GmmComponents, double Kde,
    double GaussianMinimum, IReadOnlyDictionary<string, double>? AnomalyAuroc)
{
    public double Best => Math.Max(Gmm, Kde);

    public double? BestAuroc => AnomalyAuroc is null ? null : Math.Max(AnomalyAuroc["gmm"], AnomalyAuroc["kde"]);

    public static ClassicalBaselines Load(string name)
    {
        using var document = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Quality", "density_baselines.json")));
        var set = document.RootElement.GetProperty(name);
        double Mean(string estimator) => set.GetProperty(estimator).GetProperty("meanLogLik").GetDouble();
        Dictionary<string, double>? auroc = null;
        if (set.TryGetProperty("anomaly", out var anomaly))
            auroc = new[] { "gaussian", "gmm", "kde" }.ToDictionary(k => k, k => anomaly.GetProperty(k).GetDouble());
        return new ClassicalBaselines(set.GetProperty("trainSha256").GetString()!, set.GetProperty("testSha256").GetString()!,
            Mean("gaussian"), Mean("gmm"), set.GetProperty("gmm").GetProperty("components").GetInt32(), Mean("kde"),
            set.GetProperty("gaussian").GetProperty("minLogLik").GetDouble(), auroc);
    }
}
