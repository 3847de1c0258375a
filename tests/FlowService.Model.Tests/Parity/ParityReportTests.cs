using Xunit.Abstractions;

namespace FlowService.Model.Tests.Parity;

/// <summary>The comparison itself: what passes, and that every kind of mismatch is reported, not absorbed.</summary>
public sealed class ParityReportTests(ITestOutputHelper output)
{
    [Fact]
    public void Differences_are_measured_against_the_tensors_scale()
    {
        var report = new ParityReport(output, "scale", tolerance: 1e-4);
        // 5e-4 off an element near zero is 5e-5 of this tensor's scale (10): within tolerance.
        report.Compare("small element of a large tensor", [10f, 0.0015f], [10f, 0.001f]);
        report.Compare("exact", [1f, -2f], [1f, -2f]);
        Assert.Empty(report.Failures);
        report.AssertAllWithinTolerance();

        report.Compare("over", [10f, 0.003f], [10f, 0.001f]);
        Assert.Equal("over", report.WorstTensor);
        Assert.Equal(2e-4, report.WorstRelative, 6);
        Assert.Single(report.Failures);
        Assert.ThrowsAny<Exception>(report.AssertAllWithinTolerance);
    }

    [Fact]
    public void NaN_infinity_and_a_wrong_length_fail()
    {
        var report = new ParityReport(output, "mismatches");
        report.Compare("nan", [1f, float.NaN], [1f, 2f]);
        report.Compare("infinity", [float.PositiveInfinity], [3f]);
        report.Compare("length", [1f, 2f], [1f, 2f, 3f]);
        Assert.Equal(3, report.Failures.Count);
        Assert.Collection(report.Failures,
            f => Assert.StartsWith("nan:", f, StringComparison.Ordinal),
            f => Assert.StartsWith("infinity:", f, StringComparison.Ordinal),
            f => Assert.StartsWith("length:", f, StringComparison.Ordinal));
    }
}
