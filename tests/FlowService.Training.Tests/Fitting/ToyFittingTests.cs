using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json;
using FlowService.Training.Jobs;
using Xunit.Abstractions;

namespace FlowService.Training.Tests.Fitting;

/// <summary>
/// On the 2-D toy sets, the service's trainer reaches the held-out NLL that PyTorch reaches with
/// the same architecture, data, split and training recipe (tools/reference/fit_reference.py, whose
/// results are committed in torch_fitting.json because CI has no PyTorch). Both sides train on
/// bit-identical rows: the fixture records the sha256 of the float32 rows the Python generator
/// made, and this test checks its own against it before it trains.
/// </summary>
public sealed class ToyFittingTests(ITestOutputHelper output) : IDisposable
{
    const double Tolerance = 0.05;

    static readonly JsonElement Fixture = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fitting", "torch_fitting.json"))).RootElement;

    readonly string _root = Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_root))
            Directory.Delete(_root, recursive: true);
    }

    public static TheoryData<string> Sets => new(ToyDatasets.Names);

    [Fact]
    public void The_fixture_covers_every_toy_set()
    {
        Assert.Equal(ToyDatasets.Names.Order(), Fixture.GetProperty("sets").EnumerateObject().Select(p => p.Name).Order());
    }

    [Theory]
    [MemberData(nameof(Sets))]
    public void Held_out_nll_is_within_0_05_nats_of_pytorchs(string name)
    {
        var set = Fixture.GetProperty("sets").GetProperty(name);
        int train = Fixture.GetProperty("train").GetInt32(), validation = Fixture.GetProperty("validation").GetInt32(), test = Fixture.GetProperty("test").GetInt32();
        var rows = ToyDatasets.Generate(name, train + validation + test, Fixture.GetProperty("dataSeed").GetUInt64());
        Assert.Equal(set.GetProperty("rowsSha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(rows.AsSpan()))));

        var training = Fixture.GetProperty("training");
        var parameters = new TrainingParameters
        {
            Epochs = training.GetProperty("epochs").GetInt32(),
            BatchSize = training.GetProperty("batchSize").GetInt32(),
            LearningRate = training.GetProperty("learningRate").GetDouble(),
            Patience = training.GetProperty("patience").GetInt32(),
            GradClip = training.GetProperty("gradClip").GetDouble(),
            Schedule = "cosine",
            Seed = 1,
        };
        string spec = set.GetProperty("spec").GetString()!;
        var result = FittingRun.Train(spec, FittingRun.ContiguousSplit(rows, 2, train, validation, test), parameters, Path.Combine(_root, name));

        double torch = set.GetProperty("torchMeanTestNll").GetDouble();
        string runs = string.Join(", ", set.GetProperty("torchRuns").EnumerateArray().Select(r => $"{r.GetProperty("testNll").GetDouble():F4}"));
        string truth = set.GetProperty("trueTestNll") is { ValueKind: JsonValueKind.Number } t ? $"{t.GetDouble():F4}" : "n/a";
        output.WriteLine($"{name} {spec}: ours {result.TestNll:F4} ({result.EpochsRun} epochs, best {result.BestEpoch}, {result.Seconds:F1} s); " +
            $"PyTorch mean {torch:F4} over seeds [{runs}] (std {set.GetProperty("torchSeedStd").GetDouble():F4}); true density {truth}");
        Assert.True(Math.Abs(result.TestNll - torch) <= Tolerance,
            $"{name}: held-out NLL {result.TestNll:F4} vs PyTorch's {torch:F4} (difference {result.TestNll - torch:+0.0000;-0.0000} > {Tolerance})");
    }
}
