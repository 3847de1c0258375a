using System.Collections.Concurrent;
using System.Diagnostics;
using System.Runtime.InteropServices;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Bench;

/// <summary>
/// Where time goes: an <see cref="IBackend"/> that forwards every op to the CPU backend and adds its
/// wall time to a per-(op, shape) total, from every thread. A flow built on it runs exactly the CPU
/// backend's code, plus ~30 ns of stopwatch per op (flow ops take microseconds). With
/// <see cref="ThreadCpuTime"/> it adds the calling thread's CPU time instead (clock_gettime, ~1 µs per op), which
/// time slices lost to other processes on a shared machine do not inflate.
/// </summary>
internal sealed partial class ProfiledBackend : IBackend
{
    /// <summary>Time ops by the thread's CPU time (Linux) instead of the wall clock; set before profiling.</summary>
    public static bool ThreadCpuTime { get; set; }

    private readonly CpuBackend _inner;
    private readonly ConcurrentDictionary<OpKey, Totals> _totals = new();

    public ProfiledBackend(CpuBackend inner) => _inner = inner;

    public string Name => _inner.Name;

    public bool SharesSplineParameters => _inner.SharesSplineParameters;

    /// <summary>(op, shape) → (calls, seconds) since the last <see cref="Reset"/>, slowest first.</summary>
    public IReadOnlyList<(string Op, string Shape, long Calls, double Seconds)> Snapshot() =>
        _totals.Select(pair => (pair.Key.Op, pair.Key.Shape, Interlocked.Read(ref pair.Value.Calls), Interlocked.Read(ref pair.Value.Ticks) / (double)Stopwatch.Frequency))
            .Where(row => row.Item3 > 0)
            .OrderByDescending(row => row.Item4)
            .ToList();

    public void Reset() => _totals.Clear();

    public Tensor Allocate(int rows, int cols) => _inner.Allocate(rows, cols);

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        long start = Now();
        _inner.Upload(source, destination);
        Add("Upload", destination, start);
    }

    public void Download(Tensor source, Span<float> destination)
    {
        long start = Now();
        _inner.Download(source, destination);
        Add("Download", source, start);
    }

    public void Copy(Tensor source, Tensor destination) => Time("Copy", destination, () => _inner.Copy(source, destination));

    public void Fill(Tensor destination, float value) => Time("Fill", destination, () => _inner.Fill(destination, value));

    public bool TryConvolve3x3(Tensor pixels, int height, int width, Tensor weight, Tensor output, Tensor? bias = null,
        FusedActivation activation = FusedActivation.Identity)
    {
        long start = Now();
        bool done = _inner.TryConvolve3x3(pixels, height, width, weight, output, bias, activation);
        Add(new OpKey("Conv3x3", $"{output.Rows}x{output.Cols}x{9 * pixels.Cols}"), start);
        return done;
    }

    public bool TryConvolve1x1(Tensor pixels, Tensor weight, Tensor output, Tensor? bias = null,
        FusedActivation activation = FusedActivation.Identity, Tensor? residual = null)
    {
        long start = Now();
        bool done = _inner.TryConvolve1x1(pixels, weight, output, bias, activation, residual);
        Add(new OpKey(residual is null ? "Conv1x1" : "Conv1x1 residual", $"{output.Rows}x{output.Cols}x{pixels.Cols}"), start);
        return done;
    }

    public bool TryConvolve3x3Backward(Tensor pixels, int height, int width, Tensor weight, Tensor dOutput, Tensor dWeight, Tensor? dPixels)
    {
        long start = Now();
        bool done = _inner.TryConvolve3x3Backward(pixels, height, width, weight, dOutput, dWeight, dPixels);
        Add(new OpKey(dPixels is null ? "Conv3x3 backward (dW)" : "Conv3x3 backward", $"{dOutput.Rows}x{dOutput.Cols}x{9 * pixels.Cols}"), start);
        return done;
    }

    public void Gemm(bool transposeA, bool transposeB, float alpha, Tensor a, Tensor b, float beta, Tensor c)
    {
        long start = Now();
        _inner.Gemm(transposeA, transposeB, alpha, a, b, beta, c);
        int k = transposeA ? a.Rows : a.Cols;
        string op = $"Gemm {(transposeA ? 'T' : 'N')}{(transposeB ? 'T' : 'N')}";
        Add(new OpKey(op, $"{c.Rows}x{c.Cols}x{k}"), start);
    }

    public void AffineForward(Tensor x, Tensor parameters, float scaleClamp, Tensor y, Tensor logDet) =>
        Time("AffineForward", x, () => _inner.AffineForward(x, parameters, scaleClamp, y, logDet));

    public void AffineInverse(Tensor y, Tensor parameters, float scaleClamp, Tensor x) =>
        Time("AffineInverse", y, () => _inner.AffineInverse(y, parameters, scaleClamp, x));

    public void AffineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, float scaleClamp, Tensor dx, Tensor dParameters) =>
        Time("AffineBackward", x, () => _inner.AffineBackward(x, parameters, dy, dLogDet, scaleClamp, dx, dParameters));

    public void CopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count) =>
        Time("CopyColumns", destination, () => _inner.CopyColumns(source, sourceColumn, destination, destinationColumn, count));

    public void AddColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count) =>
        Time("AddColumns", destination, () => _inner.AddColumns(source, sourceColumn, destination, destinationColumn, count));

    public void GatherColumns(Tensor source, int[] indices, Tensor destination, int destinationColumn) =>
        Time("GatherColumns", destination, () => _inner.GatherColumns(source, indices, destination, destinationColumn));

    public void ScatterColumns(Tensor source, int sourceColumn, int[] indices, Tensor destination, bool accumulate) =>
        Time(accumulate ? "ScatterColumns +=" : "ScatterColumns", destination, () => _inner.ScatterColumns(source, sourceColumn, indices, destination, accumulate));

    public void BiasActivationForward(Tensor preActivation, Tensor bias, Tensor output, FusedActivation activation) =>
        Time($"BiasActivationForward {activation}", output, () => _inner.BiasActivationForward(preActivation, bias, output, activation));

    public void BiasActivationBackward(Tensor output, Tensor dOutput, Tensor dPreActivation, Tensor biasGradient, FusedActivation activation) =>
        Time($"BiasActivationBackward {activation}", output, () => _inner.BiasActivationBackward(output, dOutput, dPreActivation, biasGradient, activation));

    public void StandardNormalLogDensity(Tensor z, Tensor logProb) => Time("StandardNormalLogDensity", z, () => _inner.StandardNormalLogDensity(z, logProb));

    public void Scale(Tensor source, float alpha, Tensor destination) => Time("Scale", destination, () => _inner.Scale(source, alpha, destination));

    public void AddScaled(Tensor source, float alpha, Tensor destination) => Time("AddScaled", destination, () => _inner.AddScaled(source, alpha, destination));

    public void Im2Col3x3(Tensor pixels, int height, int width, Tensor columns) =>
        Time("Im2Col3x3", columns, () => _inner.Im2Col3x3(pixels, height, width, columns));

    public void Col2Im3x3(Tensor columns, int height, int width, Tensor pixels) =>
        Time("Col2Im3x3", columns, () => _inner.Col2Im3x3(columns, height, width, pixels));

    public void LogitForward(Tensor x, float alpha, Tensor z, Tensor logDet) =>
        Time("LogitForward", x, () => _inner.LogitForward(x, alpha, z, logDet));

    public void LogitInverse(Tensor z, float alpha, Tensor x) =>
        Time("LogitInverse", z, () => _inner.LogitInverse(z, alpha, x));

    public void LogitBackward(Tensor x, float alpha, Tensor dz, Tensor dLogDet, Tensor dx) =>
        Time("LogitBackward", x, () => _inner.LogitBackward(x, alpha, dz, dLogDet, dx));

    public void ColumnAffineForward(Tensor x, Tensor shift, Tensor logScale, Tensor y, Tensor logDet) =>
        Time("ColumnAffineForward", x, () => _inner.ColumnAffineForward(x, shift, logScale, y, logDet));

    public void ColumnAffineInverse(Tensor y, Tensor shift, Tensor logScale, Tensor x) =>
        Time("ColumnAffineInverse", y, () => _inner.ColumnAffineInverse(y, shift, logScale, x));

    public void ColumnAffineBackward(Tensor x, Tensor shift, Tensor logScale, Tensor dy, Tensor dLogDet, Tensor dx, Tensor? dShift, Tensor? dLogScale) =>
        Time("ColumnAffineBackward", x, () => _inner.ColumnAffineBackward(x, shift, logScale, dy, dLogDet, dx, dShift, dLogScale));

    public void LuCompose(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor weight) =>
        Time("LuCompose", weight, () => _inner.LuCompose(lower, upper, logScale, permutation, weight));

    public void LuInverse(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor inverse) =>
        Time("LuInverse", inverse, () => _inner.LuInverse(lower, upper, logScale, permutation, inverse));

    public void LuComposeBackward(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor dWeight, Tensor dLower, Tensor dUpper, Tensor dLogScale) =>
        Time("LuComposeBackward", dWeight, () => _inner.LuComposeBackward(lower, upper, logScale, permutation, dWeight, dLower, dUpper, dLogScale));

    public void AddSumToRows(Tensor vector, Tensor logDet) => Time("AddSumToRows", logDet, () => _inner.AddSumToRows(vector, logDet));

    public void AccumulateSumOfRows(Tensor dLogDet, Tensor vectorGradient) => Time("AccumulateSumOfRows", dLogDet, () => _inner.AccumulateSumOfRows(dLogDet, vectorGradient));

    public void MaskWeights(Tensor weight, Tensor mask, Tensor masked) => Time("MaskWeights", masked, () => _inner.MaskWeights(weight, mask, masked));

    public void AccumulateMaskedGradient(Tensor gradient, Tensor mask, Tensor destination) =>
        Time("AccumulateMaskedGradient", destination, () => _inner.AccumulateMaskedGradient(gradient, mask, destination));

    public void AdamWStep(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWStepSettings settings)
    {
        long start = Now();
        _inner.AdamWStep(parameters, gradients, firstMoment, secondMoment, settings);
        Add("AdamWStep", parameters, start);
    }

    public void SumOfSquares(Tensor x, Tensor result) => Time("SumOfSquares", x, () => _inner.SumOfSquares(x, result));

    public void SplineForward(Tensor x, Tensor parameters, int bins, float tailBound, Tensor y, Tensor logDet) =>
        Time("SplineForward", x, () => _inner.SplineForward(x, parameters, bins, tailBound, y, logDet));

    public void SplineInverse(Tensor y, Tensor parameters, int bins, float tailBound, Tensor x) =>
        Time("SplineInverse", y, () => _inner.SplineInverse(y, parameters, bins, tailBound, x));

    public void SplineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, int bins, float tailBound, Tensor dx, Tensor dParameters) =>
        Time("SplineBackward", x, () => _inner.SplineBackward(x, parameters, dy, dLogDet, bins, tailBound, dx, dParameters));

    private void Time(string op, Tensor shaped, Action call)
    {
        long start = Now();
        call();
        Add(op, shaped, start);
    }

    private void Add(string op, Tensor shaped, long start) => Add(new OpKey(op, $"{shaped.Rows}x{shaped.Cols}"), start);

    private void Add(OpKey key, long start)
    {
        long ticks = Now() - start;
        var totals = _totals.GetOrAdd(key, _ => new Totals());
        Interlocked.Increment(ref totals.Calls);
        Interlocked.Add(ref totals.Ticks, ticks);
    }

    /// <summary>Wall-clock or thread-CPU time, in <see cref="Stopwatch"/> ticks.</summary>
    private static long Now()
    {
        if (!ThreadCpuTime)
            return Stopwatch.GetTimestamp();
        ClockGetTime(ThreadCpuClock, out var time);
        return (long)((time.Seconds * 1_000_000_000L + time.Nanoseconds) * (Stopwatch.Frequency / 1e9));
    }

    private const int ThreadCpuClock = 3;   // CLOCK_THREAD_CPUTIME_ID

    [LibraryImport("libc", EntryPoint = "clock_gettime")]
    private static partial int ClockGetTime(int clock, out TimeSpec time);

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    private readonly record struct OpKey(string Op, string Shape);

    private sealed class Totals
    {
        public long Calls;
        public long Ticks;
    }
}
