using FlowService.Model.Flows;

namespace FlowService.Model.Tests.Flows;

/// <summary>
/// A flow frozen for serving reads each dense layer's weight from a transposed copy of the parameters: every output
/// (log p, codes, log-det, decodes, samples) is bit-identical to the unfrozen flow's, for one row and for many, and
/// its parameters can no longer change.
/// </summary>
public sealed class FreezeForServingTests
{
    public static TheoryData<string, int> Specs => new()
    {
        // Hidden widths on both sides of the GEMM's direct-B limit (256), and a conditional flow.
        { """{"type":"realnvp","layers":4,"hidden":[64,64]}""", 0 },
        { """{"type":"realnvp","layers":2,"hidden":[300]}""", 3 },
        { """{"type":"nice","layers":3,"hidden":[48]}""", 0 },
        { """{"type":"glow","layers":2,"hidden":[40]}""", 0 },
        { """{"type":"nsf","layers":2,"hidden":[32,32],"bins":4}""", 0 },
        { """{"type":"maf","layers":2,"hidden":[32]}""", 2 },
        // LU-parameterised linear maps, whose composed W and W⁻¹ a frozen flow keeps (LuWeight).
        { """{"type":"gaussianization","layers":2,"bins":4,"base":{"components":2}}""", 0 },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Frozen_outputs_are_bit_identical_and_parameters_are_fixed(string spec, int contextFeatures) =>
        FrozenMatchesLive(spec, 6, contextFeatures);

    [Fact]
    public void A_frozen_image_glow_with_its_invertible_1x1_convolutions_is_bit_identical_too() =>
        FrozenMatchesLive("""{"type":"glow","image":[1,4,4],"levels":1,"steps":2,"channels":8,"blocks":1}""", 16, 0);

    /// <summary>Every output of the frozen flow against the live one, for one row, for many, and for one row again: a frozen
    /// flow's pooled context keeps what it derived from the parameters, and must not keep anything that depends on the batch.</summary>
    static void FrozenMatchesLive(string spec, int D, int contextFeatures)
    {
        var random = new Random(4);
        var live = NormalizingFlow.Create(spec, D, contextFeatures, seed: 5);
        // Away from the initial weights (zero-initialized output layers would hide a wrong weight layout).
        var values = live.GetParameters().Select(_ => (float)(random.NextDouble() - 0.5) * 0.2f).ToArray();
        live.SetParameters(values);
        var frozen = NormalizingFlow.Create(spec, D, contextFeatures, seed: 5);
        frozen.SetParameters(values);
        frozen.FreezeForServing();
        Assert.True(frozen.Frozen);

        foreach (int rows in new[] { 1, 37, 1 })
        {
            var x = Enumerable.Range(0, rows * D).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
            var context = Enumerable.Range(0, rows * contextFeatures).Select(_ => (float)random.NextDouble()).ToArray();
            Assert.Equal(Run(live, f => { var p = new float[rows]; f.LogProb(x, rows, context, p); return p; }),
                Run(frozen, f => { var p = new float[rows]; f.LogProb(x, rows, context, p); return p; }));
            Assert.Equal(Run(live, f => { var z = new float[rows * D]; var l = new float[rows]; f.Encode(x, rows, context, z, l); return [.. z, .. l]; }),
                Run(frozen, f => { var z = new float[rows * D]; var l = new float[rows]; f.Encode(x, rows, context, z, l); return [.. z, .. l]; }));
            Assert.Equal(Run(live, f => { var back = new float[rows * D]; f.Decode(x, rows, context, back); return back; }),
                Run(frozen, f => { var back = new float[rows * D]; f.Decode(x, rows, context, back); return back; }));
            Assert.Equal(Run(live, f => { var s = new float[rows * D]; f.Sample(rows, 9, 0.8f, context, s); return s; }),
                Run(frozen, f => { var s = new float[rows * D]; f.Sample(rows, 9, 0.8f, context, s); return s; }));
        }
        Assert.Throws<InvalidOperationException>(() => frozen.SetParameters(values));
    }

    static int[] Run(NormalizingFlow flow, Func<NormalizingFlow, float[]> output) =>
        output(flow).Select(BitConverter.SingleToInt32Bits).ToArray();
}
