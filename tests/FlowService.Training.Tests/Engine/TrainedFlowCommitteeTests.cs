using System.Text.Json;
using FlowService.Model.Checkpoints;
using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Training.Engine;

namespace FlowService.Training.Tests.Engine;

/// <summary>
/// A committee of flows (the fold models of a cross-validated "auto" search): the served density is the log of the members'
/// mean density, exactly, with the defensive component mixed in after; sampling picks each row's member uniformly and is
/// reproducible; latent codes are the first member's.
/// </summary>
public sealed class TrainedFlowCommitteeTests
{
    const string Spec = """{"type":"realnvp","layers":4,"hidden":[16]}""";
    static readonly float[] Rows = [0.3f, -1.2f, 2.5f, 0.7f, -3f, 4f, 0f, 0f, 6f, -5f];

    [Fact]
    public void A_committee_of_copies_of_one_flow_scores_what_the_flow_does()
    {
        var flow = NormalizingFlow.Create(Spec, 2, 0, seed: 3);
        var copy = NormalizingFlow.Create(Spec, 2, 0, seed: 3);
        copy.SetParameters(flow.GetParameters());
        var single = new float[5];
        new TrainedFlow(flow, ["a", "b"], []).LogProb(Rows, 5, [], single);
        var committee = new float[5];
        new TrainedFlow(flow, ["a", "b"], [], null, [flow, copy, flow]).LogProb(Rows, 5, [], committee);
        for (int r = 0; r < 5; r++)
            Assert.Equal(single[r], committee[r], 5);
    }

    [Fact]
    public void A_committee_scores_the_log_of_its_members_mean_density_then_mixes_in_the_defensive_component()
    {
        var a = NormalizingFlow.Create(Spec, 2, 0, seed: 3);
        var b = NormalizingFlow.Create(Spec, 2, 0, seed: 5);
        var (logA, logB) = (new float[5], new float[5]);
        a.LogProb(Rows, 5, [], logA);
        b.LogProb(Rows, 5, [], logB);
        Assert.NotEqual(logA, logB);
        var gaussian = new FullCovarianceGaussian([0.0, 0.0], [3.0, 0.0, 0.5, 2.0]);
        var defensive = new DefensiveMixture(0.01, gaussian);
        var component = new double[5];
        gaussian.LogDensity(Rows, 5, component);
        var (plain, defended) = (new float[5], new float[5]);
        new TrainedFlow(a, ["a", "b"], [], null, [a, b]).LogProb(Rows, 5, [], plain);
        new TrainedFlow(a, ["a", "b"], [], defensive, [a, b]).LogProb(Rows, 5, [], defended);
        for (int r = 0; r < 5; r++)
        {
            double mean = 0.5 * (Math.Exp((double)logA[r]) + Math.Exp((double)logB[r]));
            Assert.Equal(Math.Log(mean), plain[r], 4);
            Assert.Equal(Math.Log(0.99 * mean + 0.01 * Math.Exp(component[r])), defended[r], 4);
        }
    }

    [Fact]
    public void A_large_batch_scores_as_its_rows_do_in_small_ones()
    {
        // Under NormalizingFlow.MinRowsPerShard rows the members run side by side; from there each runs over the cores.
        var members = new[] { 3, 5, 7 }.Select(seed => NormalizingFlow.Create(Spec, 2, 0, seed)).ToArray();
        var committee = new TrainedFlow(members[0], ["a", "b"], [], null, members);
        const int rows = 2 * NormalizingFlow.MinRowsPerShard;
        var random = new Random(11);
        var x = Enumerable.Range(0, 2 * rows).Select(_ => (float)(4 * random.NextDouble() - 2)).ToArray();
        var whole = new float[rows];
        committee.LogProb(x, rows, [], whole);
        var pieces = new float[rows];
        for (int start = 0; start < rows; start += 10)
        {
            int count = Math.Min(10, rows - start);
            committee.LogProb(x.AsSpan(2 * start, 2 * count), count, [], pieces.AsSpan(start, count));
        }
        Assert.Equal(whole, pieces);
    }

    [Fact]
    public void Sampling_draws_each_rows_member_uniformly_reproducibly_and_encoding_is_the_first_members()
    {
        // Two Gaussian flows, one fitted to rows near (0, 0) and one to rows near (100, 100): each sample is attributable.
        var near = Fitted(0);
        var far = Fitted(100);
        var committee = new TrainedFlow(near, ["a", "b"], [], null, [near, far]);
        const int n = 20_000;
        var x = new float[2 * n];
        committee.Sample(n, seed: 4, temperature: 1f, [], x);
        double share = Enumerable.Range(0, n).Count(r => x[2 * r] > 50) / (double)n;
        Assert.True(Math.Abs(share - 0.5) < 4 * Math.Sqrt(0.25 / n), $"share of the far member's draws {share:F4}");
        Assert.Equal(100, Enumerable.Range(0, n).Where(r => x[2 * r] > 50).Average(r => (double)x[2 * r + 1]), 0);
        Assert.Equal(0, Enumerable.Range(0, n).Where(r => x[2 * r] <= 50).Average(r => (double)x[2 * r + 1]), 0);
        var again = new float[2 * n];
        committee.Sample(n, seed: 4, temperature: 1f, [], again);
        Assert.Equal(x, again);
        committee.Sample(n, seed: 5, temperature: 1f, [], again);
        Assert.NotEqual(x, again);

        var (z, zNear) = (new float[10], new float[10]);
        var (logDet, logDetNear) = (new float[5], new float[5]);
        committee.Encode(Rows, 5, [], z, logDet);
        near.Encode(Rows, 5, [], zNear, logDetNear);
        Assert.Equal(zNear, z);
        Assert.Equal(logDetNear, logDet);
    }

    [Fact]
    public void A_committee_starts_with_its_flow_and_models_the_same_columns()
    {
        var flow = NormalizingFlow.Create(Spec, 2, 0, seed: 3);
        var other = NormalizingFlow.Create(Spec, 2, 0, seed: 5);
        var wider = NormalizingFlow.Create(Spec, 3, 0, seed: 5);
        Assert.Throws<ArgumentException>(() => new TrainedFlow(flow, ["a", "b"], [], null, [other, flow]));
        Assert.Throws<ArgumentException>(() => new TrainedFlow(flow, ["a", "b"], [], null, [flow, wider]));
        Assert.Throws<ArgumentException>(() => new TrainedFlow(flow, ["a", "b"], [], null, []));
        Assert.Single(new TrainedFlow(flow, ["a", "b"], []).Members);
    }

    [Fact]
    public void A_committee_checkpoint_round_trips_and_one_with_a_wrong_member_count_or_a_stray_tensor_is_refused()
    {
        string root = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));
        try
        {
            var (a, b) = (NormalizingFlow.Create(Spec, 2, 0, seed: 3), NormalizingFlow.Create(Spec, 2, 0, seed: 3));
            b.SetParameters(NormalizingFlow.Create(Spec, 2, 0, seed: 9).GetParameters());
            var committee = new TrainedFlow(a, ["a", "b"], [], new DefensiveMixture(0.01, new FullCovarianceGaussian([0.0, 0.0], [1.0, 0.0, 0.0, 1.0])), [a, b]);
            var engine = new NormalizingFlowEngine();
            string saved = Path.Combine(root, "saved");
            engine.Save(committee, JsonDocument.Parse(Spec).RootElement, saved);
            var (expected, actual) = (new float[5], new float[5]);
            committee.LogProb(Rows, 5, [], expected);
            engine.Load(saved).LogProb(Rows, 5, [], actual);
            Assert.Equal(expected, actual);

            // Rewritten with valid checksums, so only the committee's own checks can refuse them.
            var checkpoint = Checkpoint.Load(saved);
            string Rewrite(string name, int? members, IEnumerable<SafeTensor> tensors)
            {
                var info = JsonSerializer.Deserialize<CheckpointInfo>(JsonSerializer.Serialize(checkpoint.Info))!;
                info.Members = members;
                string folder = Path.Combine(root, name);
                Checkpoint.Save(folder, tensors.ToArray(), info);
                return folder;
            }
            var tensors = checkpoint.Weights.Tensors.Values.ToArray();
            Assert.Throws<CheckpointCorruptException>(() => engine.Load(Rewrite("one", 1, tensors)));
            Assert.Throws<CheckpointCorruptException>(() => engine.Load(Rewrite("eleven", 11, tensors)));
            Assert.Throws<CheckpointCorruptException>(() => engine.Load(Rewrite("three", 3, tensors)));
            var stray = tensors.Append(new SafeTensor("members.2.extra", [1], [0f]));
            Assert.Throws<CheckpointCorruptException>(() => engine.Load(Rewrite("stray", 2, stray)));
            Assert.Throws<CheckpointCorruptException>(() => engine.Load(Rewrite("missing", 2, tensors.Where(t => !t.Name.StartsWith("members.1.", StringComparison.Ordinal)))));
            // The control: rewritten unchanged, it loads and scores the same.
            engine.Load(Rewrite("same", 2, tensors)).LogProb(Rows, 5, [], actual);
            Assert.Equal(expected, actual);
        }
        finally
        {
            if (Directory.Exists(root))
                Directory.Delete(root, recursive: true);
        }
    }

    /// <summary>The Gaussian flow initialised from 400 rows around (<paramref name="centre"/>, <paramref name="centre"/>).</summary>
    static NormalizingFlow Fitted(double centre)
    {
        var random = new Random(7);
        var rows = Enumerable.Range(0, 800).Select(_ => (float)(centre + random.NextDouble() * 2 - 1)).ToArray();
        var flow = NormalizingFlow.Create("""{"type":"gaussian"}""", 2, 0, seed: 1);
        flow.InitializeFromData(rows, 400, []);
        return flow;
    }
}
