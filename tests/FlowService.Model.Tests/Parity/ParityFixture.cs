using System.Buffers.Binary;
using System.Text.Json;
using FlowService.Model.Checkpoints;
using FlowService.Model.Flows;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Parity;

/// <summary>
/// One PyTorch reference fixture written by tools/reference/make_fixtures.py (a safetensors file
/// in Fixtures/): the flow's spec and weights, a batch, log p per row, dL/dx and dL/dθ for
/// L = -mean(log p), and the losses of 20 Adam / AdamW steps. See that script for the layout.
/// </summary>
public sealed class ParityFixture
{
    private readonly Dictionary<string, (int[] Shape, float[] Values)> _tensors;

    private ParityFixture(string name, Dictionary<string, (int[] Shape, float[] Values)> tensors, Dictionary<string, string> metadata)
    {
        Name = name;
        _tensors = tensors;
        Metadata = metadata;
    }

    /// <summary>The fixtures the generator writes: each flow type, plain and conditional.</summary>
    public static readonly string[] All =
    {
        "nice", "nice_conditional", "realnvp", "realnvp_conditional", "glow", "glow_conditional",
        "maf", "maf_conditional", "nsf", "nsf_conditional", "nsf_ar", "nsf_ar_conditional", "flowpp", "flowpp_conditional",
        "realnvp_attention", "realnvp_attention_conditional",
    };

    public string Name { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The flow spec JSON the fixture's flow is built from.</summary>
    public string SpecJson => Metadata["spec"];

    public int Features => int.Parse(Metadata["features"]);

    public int ContextFeatures => int.Parse(Metadata["contextFeatures"]);

    public int Batch => int.Parse(Metadata["batch"]);

    /// <summary>Parameter names: every tensor under "transforms." (the C# parameter names).</summary>
    public IEnumerable<string> ParameterNames => _tensors.Keys.Where(k => k.StartsWith("transforms.", StringComparison.Ordinal)).Order(StringComparer.Ordinal);

    public float[] this[string name] =>
        _tensors.TryGetValue(name, out var t) ? t.Values : throw new KeyNotFoundException($"Fixture {Name} has no tensor '{name}'.");

    public int[] Shape(string name) => _tensors[name].Shape;

    public bool Has(string name) => _tensors.ContainsKey(name);

    /// <summary>Optimizer settings of the replay (lr, beta1, beta2, eps, steps, adamwWeightDecay).</summary>
    public JsonElement Optimizer => JsonDocument.Parse(Metadata["optimizer"]).RootElement;

    /// <summary>
    /// The engine's flow of the fixture's spec and seed (the seed fixes Glow's LU permutations, which the
    /// generator draws as the engine does) with the fixture's weights. Every slot of the layout must be
    /// in the fixture with the reference module's shape, and every fixture parameter in the layout, so
    /// a renamed or reshaped parameter fails here instead of being compared to nothing.
    /// </summary>
    public NormalizingFlow CreateFlow()
    {
        var flow = NormalizingFlow.Create(SpecJson, Features, ContextFeatures, int.Parse(Metadata["seed"]));
        var permutations = ((Chain)flow.Transform).Transforms.OfType<LuLinear>().Select(t => t.Permutation.ToArray()).ToArray();
        var expected = Metadata.TryGetValue("luPermutations", out string? json) ? JsonSerializer.Deserialize<int[][]>(json)! : [];
        Assert.True(expected.Length == permutations.Length && expected.Zip(permutations).All(p => p.First.SequenceEqual(p.Second)),
            $"Fixture {Name}: the engine's LU permutations {JsonSerializer.Serialize(permutations)} are not the reference's {JsonSerializer.Serialize(expected)} (tools/reference/dotnet_random.py follows System.Random).");
        var arena = new float[flow.Layout.Length];
        foreach (var slot in flow.Layout.Slots)
        {
            Assert.True(Has(slot.Name), $"Fixture {Name} has no tensor for the engine's parameter '{slot.Name}'.");
            Assert.Equal(ParameterTensors.ShapeOf(slot), Shape(slot.Name));
            this[slot.Name].CopyTo(arena, slot.Offset);
        }
        var unknown = ParameterNames.Where(p => !flow.Layout.TryGet(p, out _)).ToArray();
        Assert.True(unknown.Length == 0, $"Fixture {Name} has parameters the engine does not declare: {string.Join(", ", unknown)}.");
        flow.SetParameters(arena);
        return flow;
    }

    public static ParityFixture Load(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "Fixtures", name + ".safetensors");
        byte[] bytes = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        using var header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        var data = bytes.AsSpan(8 + (int)headerLength);
        var tensors = new Dictionary<string, (int[], float[])>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                foreach (var m in entry.Value.EnumerateObject())
                    metadata[m.Name] = m.Value.GetString()!;
                continue;
            }
            Assert.Equal("F32", entry.Value.GetProperty("dtype").GetString());
            int[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            var values = new float[(offsets[1] - offsets[0]) / 4];
            for (int i = 0; i < values.Length; i++)
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(data.Slice(offsets[0] + 4 * i, 4));
            tensors[entry.Name] = (shape, values);
        }
        return new ParityFixture(name, tensors, metadata);
    }
}
