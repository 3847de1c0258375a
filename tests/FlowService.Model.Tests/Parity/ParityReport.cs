using Xunit.Abstractions;

namespace FlowService.Model.Tests.Parity;

/// <summary>
/// Compares tensors against a PyTorch fixture llm.c style: every tensor's max absolute and max
/// relative difference goes to the test output, and the test fails at the end with the list of
/// tensors over the tolerance (so one run shows every mismatch, not just the first).
/// </summary>
/// <remarks>
/// Relative difference of a tensor = max|actual - expected| / max(max|expected|, floor): the
/// error measured against the tensor's own scale, so that an element that is nearly zero in a
/// large gradient does not demand more digits than float32 has.
/// </remarks>
public sealed class ParityReport
{
    private readonly ITestOutputHelper _output;
    private readonly double _tolerance;
    private readonly List<string> _failures = new();

    public ParityReport(ITestOutputHelper output, string title, double tolerance = 1e-4)
    {
        _output = output;
        _tolerance = tolerance;
        _output.WriteLine($"{title} (tolerance {tolerance:g2} relative to each tensor's max |value|)");
    }

    /// <summary>The largest relative difference seen so far.</summary>
    public double WorstRelative { get; private set; }

    public string WorstTensor { get; private set; } = "";

    /// <summary>One line per tensor over the tolerance (or of the wrong length), in comparison order.</summary>
    public IReadOnlyList<string> Failures => _failures;

    public void Compare(string name, ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double floor = 1e-6)
    {
        if (actual.Length != expected.Length)
        {
            _failures.Add($"{name}: {actual.Length} values, fixture has {expected.Length}");
            _output.WriteLine($"  {name,-48} LENGTH {actual.Length} vs {expected.Length}");
            return;
        }
        double maxAbs = 0, scale = 0;
        bool finite = true;
        for (int i = 0; i < actual.Length; i++)
        {
            finite &= float.IsFinite(actual[i]);
            maxAbs = Math.Max(maxAbs, Math.Abs((double)actual[i] - expected[i]));
            scale = Math.Max(scale, Math.Abs((double)expected[i]));
        }
        double relative = finite ? maxAbs / Math.Max(scale, floor) : double.PositiveInfinity;
        if (relative > WorstRelative)
        {
            WorstRelative = relative;
            WorstTensor = name;
        }
        bool ok = relative <= _tolerance;
        _output.WriteLine($"  {name,-48} max|diff| {maxAbs,10:E2}  rel {relative,10:E2}  (max|ref| {scale:E2}){(ok ? "" : "  FAIL")}");
        if (!ok)
            _failures.Add($"{name}: relative difference {relative:E2} > {_tolerance:E2}");
    }

    /// <summary>Fails the test if any tensor was over the tolerance; prints the worst one either way.</summary>
    public void AssertAllWithinTolerance()
    {
        _output.WriteLine($"  worst: {WorstTensor} at {WorstRelative:E2}");
        Assert.True(_failures.Count == 0, string.Join(Environment.NewLine, _failures));
    }
}
