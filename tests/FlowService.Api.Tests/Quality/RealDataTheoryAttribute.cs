namespace FlowService.Api.Tests.Quality;

/// <summary>A theory over the real-data suite; skipped, with the reason shown, when Debian's python3-sklearn (whose bundled CSVs are the data) is not installed.</summary>
public sealed class RealDataTheoryAttribute : TheoryAttribute
{
    public RealDataTheoryAttribute()
    {
        if (RealDatasets.UnavailableReason("iris") is { } reason)
            Skip = reason;
    }
}
