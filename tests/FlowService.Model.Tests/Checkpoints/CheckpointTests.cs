using System.Text.Json.Nodes;
using FlowService.Model.Checkpoints;
using FlowService.Model.Parameters;

namespace FlowService.Model.Tests.Checkpoints;

public sealed class CheckpointTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), $"ckpt-{Guid.NewGuid():N}");

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    private static ParameterLayout Layout()
    {
        var layout = new ParameterLayout();
        layout.Add("transforms.0.shift", 1, 4);
        layout.Add("transforms.0.logScale", 1, 4);
        layout.Add("transforms.1.conditioner.net.0.weight", 8, 2);
        layout.Add("transforms.1.conditioner.net.0.bias", 1, 8);
        layout.Add("transforms.1.conditioner.net.1.weight", 1, 8);
        layout.Add("transforms.1.conditioner.net.1.bias", 1, 1);
        return layout;
    }

    private static float[] Arena(ParameterLayout layout, int seed)
    {
        var random = new Random(seed);
        var arena = new float[layout.Length];
        foreach (var slot in layout.Slots)
            for (int i = 0; i < slot.Length; i++)
                arena[slot.Offset + i] = (float)(random.NextDouble() * 2 - 1) * MathF.Pow(10, random.Next(-30, 30));
        return arena;
    }

    private static CheckpointInfo Info() => new()
    {
        Spec = JsonNode.Parse("""{"type":"realnvp","layers":2}"""),
        Features = 4,
        ColumnNames = ["a", "b", "c", "d"],
        NormalizationMean = [1f, 2f, 3f, 4f],
        NormalizationStd = [0.5f, 1f, 2f, 3f],
        Metadata = new JsonObject { ["calibration"] = new JsonArray(0.1, 0.5, 0.9), ["lineage"] = "job-7" },
    };

    private string Dir => Path.Combine(_root, "model");

    [Fact]
    public void Load_of_save_gives_bit_identical_parameters_and_the_same_description()
    {
        var layout = Layout();
        float[] arena = Arena(layout, 1);
        Checkpoint.Save(Dir, layout, arena, Info());
        var loaded = Checkpoint.Load(Dir);
        Assert.Equal(arena.Select(BitConverter.SingleToInt32Bits), loaded.Parameters(layout).Select(BitConverter.SingleToInt32Bits));
        Assert.Equal("realnvp", loaded.Info.Spec!["type"]!.GetValue<string>());
        Assert.Equal(["a", "b", "c", "d"], loaded.Info.ColumnNames);
        Assert.Equal([0.5f, 1f, 2f, 3f], loaded.Info.NormalizationStd!);
        Assert.Equal("job-7", loaded.Info.Metadata["lineage"]!.GetValue<string>());
        Assert.Equal(ChecksummedDirectory.Sha256(File.ReadAllBytes(Path.Combine(Dir, Checkpoint.WeightsFileName))), loaded.Info.WeightsSha256);
    }

    [Fact]
    public void Weights_have_the_PyTorch_shapes_biases_1d_actnorm_2d()
    {
        var layout = Layout();
        Checkpoint.Save(Dir, layout, Arena(layout, 2), Info());
        var weights = SafeTensorsReader.Read(Path.Combine(Dir, Checkpoint.WeightsFileName));
        Assert.Equal([1, 4], weights["transforms.0.shift"].Shape);
        Assert.Equal([1, 4], weights["transforms.0.logScale"].Shape);
        Assert.Equal([8, 2], weights["transforms.1.conditioner.net.0.weight"].Shape);
        Assert.Equal([8], weights["transforms.1.conditioner.net.0.bias"].Shape);
        Assert.Equal([1, 8], weights["transforms.1.conditioner.net.1.weight"].Shape);
        Assert.Equal([1], weights["transforms.1.conditioner.net.1.bias"].Shape);
    }

    [Theory]
    [InlineData(Checkpoint.WeightsFileName)]
    [InlineData(Checkpoint.InfoFileName)]
    public void A_flipped_byte_is_detected(string file)
    {
        var layout = Layout();
        Checkpoint.Save(Dir, layout, Arena(layout, 3), Info());
        string path = Path.Combine(Dir, file);
        byte[] bytes = File.ReadAllBytes(path);
        bytes[^3] ^= 0x01;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<CheckpointCorruptException>(() => Checkpoint.Load(Dir));
        Assert.Contains(file, e.Message);
        Assert.Contains("sha256", e.Message);
    }

    [Fact]
    public void A_truncated_or_missing_file_is_detected()
    {
        var layout = Layout();
        Checkpoint.Save(Dir, layout, Arena(layout, 4), Info());
        string weights = Path.Combine(Dir, Checkpoint.WeightsFileName);
        byte[] bytes = File.ReadAllBytes(weights);
        File.WriteAllBytes(weights, bytes[..^16]);
        Assert.Contains("truncated", Assert.Throws<CheckpointCorruptException>(() => Checkpoint.Load(Dir)).Message);
        File.Delete(weights);
        Assert.Contains("missing", Assert.Throws<CheckpointCorruptException>(() => Checkpoint.Load(Dir)).Message);
        File.Delete(Path.Combine(Dir, ChecksummedDirectory.ManifestName));
        Assert.Contains("SHA256SUMS", Assert.Throws<CheckpointCorruptException>(() => Checkpoint.Load(Dir)).Message);
    }

    [Fact]
    public void A_different_architecture_is_refused_by_name()
    {
        var layout = Layout();
        Checkpoint.Save(Dir, layout, Arena(layout, 5), Info());
        var other = new ParameterLayout();
        other.Add("transforms.0.shift", 1, 4);
        other.Add("transforms.0.logScale", 1, 5);
        Assert.Contains("transforms.0.logScale", Assert.Throws<CheckpointCorruptException>(() => Checkpoint.Load(Dir).Parameters(other)).Message);
    }

    [Fact]
    public void A_failed_save_leaves_the_previous_checkpoint_intact_and_nothing_partial()
    {
        var layout = Layout();
        float[] first = Arena(layout, 6);
        Checkpoint.Save(Dir, layout, first, Info());
        Assert.ThrowsAny<ArgumentException>(() => Checkpoint.Save(Dir, layout, new float[3], Info()));
        Assert.Throws<ArgumentException>(() => ChecksummedDirectory.Write(Dir, new Dictionary<string, byte[]> { ["ok"] = [1], ["bad/name"] = [2] }));
        Assert.Equal(first, Checkpoint.Load(Dir).Parameters(layout));
        Assert.Equal(["model"], Directory.GetFileSystemEntries(_root).Select(Path.GetFileName));
    }

    [Fact]
    public void A_crash_between_the_renames_is_recovered_and_a_new_save_replaces_the_old()
    {
        var layout = Layout();
        float[] first = Arena(layout, 7);
        Checkpoint.Save(Dir, layout, first, Info());
        // The state a crash leaves after "rename the old version aside" and before "rename the new one in".
        Directory.Move(Dir, Path.Combine(_root, ".model.retired-0123"));
        Directory.CreateDirectory(Path.Combine(_root, ".model.staging-4567"));
        Assert.Equal(first, Checkpoint.Load(Dir).Parameters(layout));

        float[] second = Arena(layout, 8);
        Checkpoint.Save(Dir, layout, second, Info());
        Assert.Equal(second, Checkpoint.Load(Dir).Parameters(layout));
        Assert.DoesNotContain(Directory.GetDirectories(_root), d => d.Contains(".retired-", StringComparison.Ordinal));
    }
}
