using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;

namespace FlowService.Training.Engine;

/// <summary>
/// A <see cref="NormalizingFlow"/> as the service holds it: the density calls of
/// <see cref="IDensityFlow"/> plus the column names it was trained on, which its checkpoint records,
/// the <see cref="DefensiveMixture"/> (if any) that the served density mixes in, and, for the fold models of a
/// cross-validated "auto" search, the other members of an equally weighted committee of flows of the same spec.
/// </summary>
/// <remarks>
/// The served density is p(x) = (1 - ε) (1/k) Σ_m p_m(x) + ε q(x) over the k <see cref="Members"/> (k = 1 for a single
/// flow) and the defensive component q (ε = 0 without one). <see cref="LogProb"/> is its exact log density and
/// <see cref="Sample"/> draws from it exactly; <see cref="Encode"/> and <see cref="Decode"/> stay the first member's
/// bijection (z = f(x), x = f⁻¹(z)), which is what a latent code means: a mixture of flows has no single one. The
/// flows' own calls are thread-safe and spread large batches over the cores.
/// </remarks>
public sealed class TrainedFlow : IDensityFlow
{
    /// <param name="members">Every flow of a committee, <paramref name="flow"/> first; null or just <paramref name="flow"/>
    /// for a single flow. All have <paramref name="flow"/>'s features and context features.</param>
    public TrainedFlow(NormalizingFlow flow, IReadOnlyList<string> columns, IReadOnlyList<string> contextColumns, DefensiveMixture? defensive = null,
        IReadOnlyList<NormalizingFlow>? members = null)
    {
        ArgumentNullException.ThrowIfNull(flow);
        members ??= [flow];
        if (members.Count == 0 || !ReferenceEquals(members[0], flow))
            throw new ArgumentException("A committee's first member is the flow itself.", nameof(members));
        if (members.Any(m => m.Features != flow.Features || m.ContextFeatures != flow.ContextFeatures))
            throw new ArgumentException("Every member of a committee models the same columns.", nameof(members));
        (Flow, Columns, ContextColumns, Defensive, Members) = (flow, columns, contextColumns, defensive, members);
    }

    /// <summary>The single flow, or a committee's first member: the one <see cref="Encode"/> and <see cref="Decode"/> run.</summary>
    public NormalizingFlow Flow { get; }

    /// <summary>The flows whose densities the served one averages, <see cref="Flow"/> first; one for a single flow.</summary>
    public IReadOnlyList<NormalizingFlow> Members { get; }

    public IReadOnlyList<string> Columns { get; }

    public IReadOnlyList<string> ContextColumns { get; }

    public DefensiveMixture? Defensive { get; }

    public int Features => Flow.Features;

    public int ContextFeatures => Flow.ContextFeatures;

    /// <summary>The same flows with <paramref name="mixture"/> as their defensive component.</summary>
    public TrainedFlow WithDefensive(DefensiveMixture? mixture) => new(Flow, Columns, ContextColumns, mixture, Members);

    public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb)
    {
        Flow.LogProb(x, rows, context, logProb);
        if (Members.Count > 1)
            AverageMembers(x, rows, context, logProb);
        if (Defensive is not { } mixture)
            return;
        var component = new double[rows];
        mixture.Component.LogDensity(x, rows, component);
        for (int r = 0; r < rows; r++)
            logProb[r] = (float)mixture.Combine(logProb[r], component[r]);
    }

    /// <summary>log (1/k) Σ_m p_m(x) per row, given the first member's log p in <paramref name="logProb"/>; stable for any
    /// member's -∞ (a NaN counts as -∞, as <see cref="DefensiveMixture.Combine"/> takes it).</summary>
    private void AverageMembers(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb)
    {
        var each = new float[Members.Count][];
        each[0] = logProb[..rows].ToArray();
        for (int m = 1; m < Members.Count; m++)
            each[m] = new float[rows];
        // A small batch stays on one core inside each flow (NormalizingFlow.MinRowsPerShard), so the members run side by
        // side instead: a one-row request then waits for k/cores flows, not k. A large one spreads each flow over the cores.
        if (rows < NormalizingFlow.MinRowsPerShard)
            ShardRunner.Shared.Run(Members.Count - 1, new OtherMembers(Members, x.ToArray(), context.ToArray(), rows, each));
        else
            for (int m = 1; m < Members.Count; m++)
                Members[m].LogProb(x, rows, context, each[m]);
        double logCount = Math.Log(Members.Count);
        for (int r = 0; r < rows; r++)
        {
            double max = double.NegativeInfinity;
            foreach (var member in each)
                if (!float.IsNaN(member[r]))
                    max = Math.Max(max, member[r]);
            if (double.IsNegativeInfinity(max))
            {
                logProb[r] = float.NegativeInfinity;
                continue;
            }
            double sum = 0;
            foreach (var member in each)
                if (!float.IsNaN(member[r]))
                    sum += Math.Exp(member[r] - max);
            logProb[r] = (float)(max + Math.Log(sum) - logCount);
        }
    }

    /// <summary>Shard s scores the rows under member s + 1 (member 0 has already).</summary>
    private readonly struct OtherMembers(IReadOnlyList<NormalizingFlow> members, float[] x, float[] context, int rows, float[][] each) : IShardBody
    {
        public void Run(int shard) => members[shard + 1].LogProb(x, rows, context, each[shard + 1]);
    }

    public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet) =>
        Flow.Encode(x, rows, context, z, logDet);

    public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x) =>
        Flow.Decode(z, rows, context, x);

    /// <summary>
    /// n draws of the served density. A single flow: its n samples for <paramref name="seed"/>. A committee: each row's
    /// member is drawn uniformly (a generator of its own from the seed), and member m draws its rows (with their context
    /// rows) from seed + m. Then each row is replaced, with probability ε (another generator from the same seed), by a draw
    /// of the defensive component at the same temperature (a Gaussian shrinks with it; a uniform cube has no scale to
    /// shrink). Same seed, same samples.
    /// </summary>
    public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
    {
        if (Members.Count == 1)
            Flow.Sample(n, seed, temperature, context, x);
        else
            SampleMembers(n, seed, temperature, context, x);
        if (Defensive is not { } mixture)
            return;
        var random = new Random(unchecked(seed * 31 + 0x5EED));
        int d = Features;
        for (int r = 0; r < n; r++)
            if (random.NextDouble() < mixture.Weight)
                mixture.Component.SampleRow(random, temperature, x.Slice(r * d, d));
    }

    private void SampleMembers(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
    {
        int d = Features, c = ContextFeatures;
        var choice = new Random(unchecked(seed * 37 + 0xC0DE));
        var member = new int[n];
        for (int r = 0; r < n; r++)
            member[r] = choice.Next(Members.Count);
        for (int m = 0; m < Members.Count; m++)
        {
            var rows = Enumerable.Range(0, n).Where(r => member[r] == m).ToArray();
            if (rows.Length == 0)
                continue;
            var memberContext = new float[rows.Length * c];
            for (int i = 0; i < rows.Length; i++)
                context.Slice(rows[i] * c, c).CopyTo(memberContext.AsSpan(i * c, c));
            var drawn = new float[rows.Length * d];
            Members[m].Sample(rows.Length, unchecked(seed + m), temperature, memberContext, drawn);
            for (int i = 0; i < rows.Length; i++)
                drawn.AsSpan(i * d, d).CopyTo(x.Slice(rows[i] * d, d));
        }
    }
}
