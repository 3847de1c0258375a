using System.Collections.Concurrent;
using FlowService.Training.Engine;

namespace FlowService.Api.Tests.Scoring;

/// <summary>
/// A flow with a closed form (z = 2x + 1, log p = Σ x) that records the size of every batch it computes and can
/// be held inside its call (<see cref="Hold"/>) so that a test can pile requests up behind it.
/// </summary>
public sealed class RecordingFlow(int features) : IDensityFlow
{
    readonly ManualResetEventSlim _open = new(true);

    public int Features => features;

    public int ContextFeatures => 0;

    public ConcurrentQueue<int> Batches { get; } = new();

    /// <summary>Set when a call has started (and, while held, is waiting).</summary>
    public ManualResetEventSlim Entered { get; } = new(false);

    public void Hold() => _open.Reset();

    public void Release() => _open.Set();

    void Enter(int rows)
    {
        Batches.Enqueue(rows);
        Entered.Set();
        _open.Wait(TimeSpan.FromSeconds(30));
    }

    public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb)
    {
        Enter(rows);
        for (int r = 0; r < rows; r++)
        {
            float sum = 0;
            for (int c = 0; c < features; c++)
                sum += x[r * features + c];
            logProb[r] = sum;
        }
    }

    public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet)
    {
        Enter(rows);
        for (int i = 0; i < rows * features; i++)
            z[i] = 2 * x[i] + 1;
        logDet[..rows].Fill(features * MathF.Log(2));
    }

    public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x)
    {
        Enter(rows);
        for (int i = 0; i < rows * features; i++)
            x[i] = (z[i] - 1) / 2;
    }

    public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x) => x[..(n * features)].Fill(seed);
}
