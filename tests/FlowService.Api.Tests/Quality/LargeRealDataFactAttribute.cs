namespace FlowService.Api.Tests.Quality;

/// <summary>
/// A fact over the suite's large set: it trains for minutes on 2 cores, so it runs only when
/// FLOWSERVICE_QUALITY_LARGE=1 (and Debian's dataset-fashion-mnist is installed), and says so when skipped.
/// </summary>
public sealed class LargeRealDataFactAttribute : FactAttribute
{
    public LargeRealDataFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("FLOWSERVICE_QUALITY_LARGE") != "1")
            Skip = "the large real-data set trains for minutes: run with FLOWSERVICE_QUALITY_LARGE=1 (figures in bench/RESULTS.md)";
        else if (RealDatasets.UnavailableReason("fashion_mnist_7x7") is { } reason)
            Skip = reason;
    }
}
