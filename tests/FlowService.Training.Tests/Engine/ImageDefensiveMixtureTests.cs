using System.Text.Json;
using System.Text.Json.Nodes;
using FlowService.Model.Checkpoints;
using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Training.Tests.Engine;

/// <summary>
/// An image flow's served density mixes in the uniform density on its pixel cube, (1 - ε) p_flow + ε U[0, pixelRange)^D,
/// ε chosen on validation images: no image in the cube scores worse than 8 + log2(1/ε)/D bits/dim (for 8-bit pixels), the
/// checkpoint records the component, and a checkpoint whose component is unreadable is refused by name.
/// </summary>
public sealed class ImageDefensiveMixtureTests : IDisposable
{
    readonly string _root = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    /// <summary>4x4 grey images: a dark background with one bright 2x2 block in one of the four quadrants, ±2 integer jitter.</summary>
    static NumericTable Blocks(int count, int seed)
    {
        var random = new Random(seed);
        var values = new double[count * 16];
        for (int n = 0; n < count; n++)
        {
            int quadrant = random.Next(4), top = 2 * (quadrant / 2), left = 2 * (quadrant % 2);
            for (int y = 0; y < 4; y++)
                for (int x = 0; x < 4; x++)
                {
                    bool bright = y >= top && y < top + 2 && x >= left && x < left + 2;
                    values[n * 16 + y * 4 + x] = Math.Clamp((bright ? 220 : 20) + random.Next(-2, 3), 0, 255);
                }
        }
        return new NumericTable(Enumerable.Range(0, 16).Select(i => $"p{i}").ToArray(), count, values);
    }

    TrainedFlow Train(string spec, string folder)
    {
        var split = DatasetSplit.Create(Blocks(600, seed: 1), [], 0.2, 0.0, seed: 3);
        var parameters = new TrainingParameters { Epochs = 3, BatchSize = 64, LearningRate = 2e-3, Patience = 3, Seed = 4 };
        var run = new TrainingRun(JsonDocument.Parse(spec).RootElement.Clone(), split, parameters, Path.Combine(_root, folder));
        return Assert.IsType<TrainedFlow>(new NormalizingFlowEngine().Train(run, new NormalizingFlowEngineTests.Recorder(), CancellationToken.None).Flow);
    }

    [Theory]
    [InlineData("""{"type":"realnvp","image":[1,4,4],"levels":2,"steps":2,"channels":8,"blocks":1,"inputNorm":true}""", 256.0)]
    [InlineData("""{"type":"glow","image":[1,4,4],"levels":1,"steps":2,"channels":8,"blocks":1,"pixelRange":512}""", 512.0)]
    public void An_image_flow_is_served_with_a_uniform_component_on_its_pixel_cube(string spec, double pixelRange)
    {
        var trained = Train(spec, "train");

        var mixture = Assert.IsType<DefensiveMixture>(trained.Defensive);
        var cube = Assert.IsType<UniformCube>(mixture.Component);
        Assert.Equal(pixelRange, cube.High);
        Assert.Contains(mixture.Weight, DefensiveMixture.Weights);

        // Ordinary images, and images no training image resembles (a bright frame, a checkerboard, all white, all black):
        // the served log p is the mixture of the flow's and the cube's, and never below log ε - 16 log(pixelRange).
        var images = Blocks(4, seed: 9).Values.Select(v => (float)v).ToList();
        images.AddRange(Enumerable.Range(0, 16).Select(i => i / 4 is 0 or 3 || i % 4 is 0 or 3 ? 250f : 0f));
        images.AddRange(Enumerable.Range(0, 16).Select(i => (i / 4 + i % 4) % 2 == 0 ? 255f : 0f));
        images.AddRange(Enumerable.Repeat(255f, 16));
        images.AddRange(Enumerable.Repeat(0f, 16));
        int rows = images.Count / 16;
        var served = new float[rows];
        var flowOnly = new float[rows];
        trained.LogProb(images.ToArray(), rows, [], served);
        trained.Flow.LogProb(images.ToArray(), rows, [], flowOnly);
        double floor = Math.Log(mixture.Weight) - 16 * Math.Log(pixelRange);
        for (int r = 0; r < rows; r++)
        {
            double expected = Math.Log((1 - mixture.Weight) * Math.Exp((double)flowOnly[r]) + mixture.Weight * Math.Exp(-16 * Math.Log(pixelRange)));
            Assert.Equal(expected, served[r], 3);
            Assert.True(served[r] >= floor - 1e-4, $"image {r}: served {served[r]}, floor {floor}");
            if (pixelRange == 256)
                Assert.True(BitsPerDim.FromLogProb(served[r], 16) <= 8 + Math.Log2(1 / mixture.Weight) / 16 + 1e-4);
        }
        // Where the flow is right the mixture costs at most -log(1 - ε) nats.
        for (int r = 0; r < 4; r++)
            Assert.True(served[r] >= flowOnly[r] + Math.Log(1 - mixture.Weight) - 1e-4);
    }

    [Fact]
    public void The_checkpoint_records_the_component_and_a_loaded_model_serves_and_samples_the_same_density()
    {
        var engine = new NormalizingFlowEngine();
        var trained = Train("""{"type":"realnvp","image":[1,4,4],"levels":2,"steps":2,"channels":8,"blocks":1}""", "train");
        string folder = Path.Combine(_root, "checkpoint");
        engine.Save(trained, default, folder);

        var recorded = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "model.json")))!["defensiveMixture"]!.AsObject();
        Assert.Equal("uniform", (string?)recorded["kind"]);
        Assert.Equal(256.0, (double)recorded["high"]!);
        Assert.Equal(trained.Defensive!.Weight, (double)recorded["weight"]!);
        Assert.False(recorded.ContainsKey("mean"));
        Assert.False(recorded.ContainsKey("cholesky"));

        var loaded = Assert.IsType<TrainedFlow>(engine.Load(folder));
        float[] images = Blocks(8, seed: 11).Values.Select(v => (float)v).ToArray();
        var before = new float[8];
        var after = new float[8];
        trained.LogProb(images, 8, [], before);
        loaded.LogProb(images, 8, [], after);
        Assert.Equal(before, after);

        // Sampling: the same seed gives the same draws from both, and a uniform draw (probability ε per row) is in the cube.
        var x = new float[64 * 16];
        var y = new float[64 * 16];
        trained.Sample(64, seed: 5, temperature: 1f, [], x);
        loaded.Sample(64, seed: 5, temperature: 1f, [], y);
        Assert.Equal(x, y);
    }

    [Fact]
    public void Sampling_the_served_image_density_draws_uniform_images_with_probability_epsilon()
    {
        var trained = Train("""{"type":"realnvp","image":[1,4,4],"levels":2,"steps":2,"channels":8,"blocks":1}""", "train");
        // A large ε makes the uniform draws countable; the flow's own draws for the same seed tell which rows were replaced.
        var served = trained.WithDefensive(new DefensiveMixture(0.3, new UniformCube(16, 256)));
        const int n = 4000;
        var x = new float[n * 16];
        var flowOnly = new float[n * 16];
        served.Sample(n, seed: 2, temperature: 1f, [], x);
        trained.Flow.Sample(n, seed: 2, temperature: 1f, [], flowOnly);
        var replaced = Enumerable.Range(0, n).Where(r => !x.AsSpan(r * 16, 16).SequenceEqual(flowOnly.AsSpan(r * 16, 16))).ToArray();

        double share = replaced.Length / (double)n;
        Assert.True(Math.Abs(share - 0.3) < 4 * Math.Sqrt(0.3 * 0.7 / n), $"share of uniform draws {share:F4}");
        var pixels = replaced.SelectMany(r => x.AsSpan(r * 16, 16).ToArray()).ToArray();
        Assert.All(pixels, v => Assert.InRange(v, 0f, 255.99998f));
        // U[0, 256): mean 128, sd 73.9; four standard errors of the mean.
        Assert.True(Math.Abs(pixels.Average(v => (double)v) - 128) < 4 * 73.9 / Math.Sqrt(pixels.Length));
    }

    [Theory]
    [InlineData("""{"kind":"beta","weight":0.001,"high":256}""", "kind \"beta\"")]
    [InlineData("""{"kind":"uniform","weight":0.001}""", "no \"high\" edge")]
    [InlineData("""{"kind":"uniform","weight":0.001,"high":-1}""", "upper edge must be positive")]
    [InlineData("""{"kind":"uniform","weight":1.5,"high":256}""", "weight 1.5")]
    [InlineData("""{"weight":0.001,"high":256}""", "defensive Gaussian has 0 means for 16 features")]
    public void A_checkpoint_with_an_unreadable_component_is_refused_saying_what_is_wrong(string component, string expected)
    {
        var engine = new NormalizingFlowEngine();
        var trained = Train("""{"type":"realnvp","image":[1,4,4],"levels":2,"steps":2,"channels":8,"blocks":1}""", "train");
        string good = Path.Combine(_root, "good"), bad = Path.Combine(_root, "bad");
        engine.Save(trained, default, good);
        // Written through Checkpoint.Save, so the manifest's hashes are right and only the component is wrong.
        var checkpoint = Checkpoint.Load(good);
        var info = checkpoint.Info;
        info.DefensiveMixture = JsonSerializer.Deserialize<DefensiveMixtureInfo>(component);
        Checkpoint.Save(bad, trained.Flow.Layout, checkpoint.Parameters(trained.Flow.Layout), info);

        var e = Assert.Throws<CheckpointCorruptException>(() => engine.Load(bad));
        Assert.Contains(expected, e.Message);
    }
}
