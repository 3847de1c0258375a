using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;
using FlowService.Training.Engine;

namespace FlowService.Training.Tests.Engine;

/// <summary>
/// ShardedGradient shares one activation workspace among the shards that run one after another on a thread: the
/// gradient must not depend on which workspace a shard got or what an earlier batch left in it.
/// </summary>
public sealed class ShardedGradientTests
{
    public static TheoryData<string, int, int> Flows => new()
    {
        // 16x16 images: 96 rows are 3 shards; the 3x3 convolutions run the direct kernels (width >= their tiles).
        { """{"type":"realnvp","image":[1,16,16],"levels":2,"steps":2,"channels":8,"blocks":1,"inputNorm":true}""", 256, 96 },
        { """{"type":"realnvp","layers":4,"hidden":[16]}""", 6, 512 },
    };

    [Theory]
    [MemberData(nameof(Flows))]
    public void Gradients_are_those_of_fresh_per_shard_contexts_summed_in_order_whatever_ran_before(string spec, int features, int rows)
    {
        int shards = ShardedGradient.ShardsFor(rows, features);
        Assert.True(shards >= 3, $"the case should split into several shards, not {shards}");
        var flow = NormalizingFlow.Create(spec, features, 0, seed: 3);
        var random = new Random(4);
        var first = Enumerable.Range(0, rows * features).Select(_ => (float)(random.NextDouble() * 255 + 0.5)).ToArray();
        var second = Enumerable.Range(0, rows * features).Select(_ => (float)(random.NextDouble() * 255 + 0.5)).ToArray();
        flow.InitializeFromData(first, rows, []);

        var expected = new float[flow.Parameters.Length];
        double expectedNll = 0;
        var tx = flow.Backend.Allocate(rows, features);
        flow.Backend.Upload(first, tx);
        var sum = flow.AllocateGradients();
        for (int s = 0; s < shards; s++)
        {
            var range = ShardRange.Of(rows, shards, s);
            var arena = flow.AllocateGradients();
            expectedNll += flow.AccumulateGradients(flow.CreateTrainingContext(arena), tx.SliceRows(range.Start, range.Count), null, 1f / rows);
            flow.Backend.AddScaled(arena, 1f, sum);
        }
        flow.Backend.Download(sum, expected);

        var gradient = new ShardedGradient(flow);
        var actual = new float[expected.Length];
        for (int round = 0; round < 3; round++)
        {
            Assert.Equal(expectedNll, gradient.Compute(first, [], rows));
            flow.Backend.Download(gradient.Gradient, actual);
            Assert.Equal(expected, actual);
            gradient.Compute(second, [], rows);
        }
    }
}
