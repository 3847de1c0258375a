using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;

namespace FlowService.Model.Tests.Flows;

/// <summary>
/// Host calls of an image flow split over shards and chunks (wide rows shard from 20 images and run 10 at a time):
/// every row's result is the one it gets alone, the output may be the input buffer, and tables shard as before.
/// </summary>
public sealed class ImageFlowShardingTests
{
    private const string Spec = """{"type":"realnvp","image":[1,28,28],"levels":2,"steps":1,"channels":8,"blocks":1,"inputNorm":true}""";
    private const int D = 784;

    [Theory]
    [InlineData(500, 784, 2, 2)]   // 500 images: both cores (256 rows per shard kept it on one)
    [InlineData(40, 784, 2, 2)]
    [InlineData(39, 784, 2, 1)]    // under 2 x 20 images
    [InlineData(64, 784, 8, 3)]
    [InlineData(1, 784, 2, 1)]
    [InlineData(511, 4, 2, 1)]     // tables: 256 rows per shard, as before
    [InlineData(512, 64, 2, 2)]
    [InlineData(512, 4, 1, 1)]
    public void Wide_rows_shard_from_fewer_rows_and_narrow_rows_as_before(int rows, int features, int degree, int shards) =>
        Assert.Equal(shards, NormalizingFlow.ShardsFor(rows, features, degree));

    [Fact]
    public void Chunks_are_ten_images_of_28x28_and_tables_keep_theirs() =>
        Assert.Equal((10, 16_384, 1024), (NormalizingFlow.ChunkRowsFor(784), NormalizingFlow.ChunkRowsFor(4), NormalizingFlow.ChunkRowsFor(64)));

    [Theory]
    [InlineData(1)]
    [InlineData(23)]
    [InlineData(47)]   // two shards where the machine has two threads; uneven chunks in each
    public void Sharded_and_chunked_log_p_is_each_images_own(int rows)
    {
        var (flow, x) = Flow(rows);
        var together = new float[rows];
        flow.LogProb(x, rows, [], together);
        for (int r = 0; r < rows; r++)
        {
            var alone = new float[1];
            flow.LogProb(x.AsSpan(r * D, D), 1, [], alone);
            Assert.Equal(alone[0], together[r]);
        }
        Assert.True(ShardRunner.Shared.Degree < 2 || rows < 40 || NormalizingFlow.ShardsFor(rows, D, ShardRunner.Shared.Degree) == 2);
    }

    [Fact]
    public void Encode_and_decode_may_write_over_their_input()
    {
        const int rows = 47;
        var (flow, x) = Flow(rows);
        var z = new float[x.Length];
        var logDet = new float[rows];
        flow.Encode(x, rows, [], z, logDet);
        var inPlace = (float[])x.Clone();
        var inPlaceLogDet = new float[rows];
        flow.Encode(inPlace, rows, [], inPlace, inPlaceLogDet);
        Assert.Equal(z, inPlace);
        Assert.Equal(logDet, inPlaceLogDet);
        var back = new float[x.Length];
        flow.Decode(z, rows, [], back);
        flow.Decode(inPlace, rows, [], inPlace);
        Assert.Equal(back, inPlace);
    }

    private static (NormalizingFlow Flow, float[] X) Flow(int rows)
    {
        var flow = NormalizingFlow.Create(Spec, D, 0, seed: 3);
        var random = new Random(4);
        var x = new float[rows * D];
        for (int i = 0; i < x.Length; i++)
            x[i] = random.Next(256) + random.NextSingle();
        var initial = new float[64 * D];
        for (int i = 0; i < initial.Length; i++)
            initial[i] = random.Next(256) + random.NextSingle();
        flow.InitializeFromData(initial, 64, []);
        // The couplings' output convolutions start at zero (identity couplings): move every weight so the convolutions count.
        var parameters = flow.GetParameters();
        for (int i = 0; i < parameters.Length; i++)
            parameters[i] += 0.02f * (random.NextSingle() - 0.5f);
        flow.SetParameters(parameters);
        return (flow, x);
    }
}
