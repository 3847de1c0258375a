using FlowService.Model.Checkpoints;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Flows;
using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Images;

namespace FlowService.Model.Tests.Parity;

/// <summary>
/// The multi-scale image flows against PyTorch (tools/reference/make_image_fixtures.py, a plain
/// NCHW nn.Conv2d implementation): the same spec and seed give the same 1x1-convolution
/// permutations, and with the fixture's weights the same latent z, log p, dL/dx and every dL/dθ.
/// </summary>
public sealed class ImageFlowParityTests
{
    private static readonly CpuBackend Backend = CpuBackend.Instance;

    public static TheoryData<string> Fixtures() => new("image_realnvp", "image_realnvp_additive", "image_glow");

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Latent_log_density_and_every_gradient_match_PyTorch(string name)
    {
        var file = SafeTensorsReader.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", name + ".safetensors"));
        int features = int.Parse(file.Metadata["features"]), batch = int.Parse(file.Metadata["batch"]);
        var flow = NormalizingFlow.Create(FlowSpec.Parse(file.Metadata["spec"]), features, 0, int.Parse(file.Metadata["structureSeed"]));

        var permutations = file.Tensors.Keys.Where(k => k.StartsWith("permutation.", StringComparison.Ordinal)).ToHashSet();
        foreach (var (prefix, conv) in InvertibleConvolutions(flow.Transform, ""))
        {
            Assert.True(permutations.Remove("permutation." + prefix), $"{name}: PyTorch has no 1x1 convolution at {prefix}");
            Assert.Equal(file["permutation." + prefix].Values.Select(v => (int)v), conv.Permutation);
        }
        Assert.Empty(permutations);

        var weights = new SafeTensorsFile(file.Tensors.Values.Where(t => t.Name.StartsWith("transforms.", StringComparison.Ordinal)));
        flow.SetParameters(ParameterTensors.ToArena(flow.Layout, weights));
        float[] x = file["x"].Values;

        var z = new float[x.Length];
        var logDet = new float[batch];
        flow.Encode(x, batch, [], z, logDet);
        AssertClose(file["z"].Values, z, $"{name} z");
        var logProb = new float[batch];
        flow.LogProb(x, batch, [], logProb);
        AssertClose(file["log_prob"].Values, logProb, $"{name} log p");

        // L = -mean log p: dL/dz = z / B, dL/dlogDet = -1/B (docs/ENGINE.md), through the transform's own Backward.
        var gradients = flow.AllocateGradients();
        var context = flow.CreateTrainingContext(gradients);
        context.RecordForBackward = true;
        var tx = Backend.Allocate(batch, features);
        Backend.Upload(x, tx);
        var tz = Backend.Allocate(batch, features);
        var tLogDet = Backend.Allocate(batch, 1);
        flow.Transform.Forward(context, tx, tz, tLogDet);
        var dz = Backend.Allocate(batch, features);
        Backend.Scale(tz, 1f / batch, dz);
        var dLogDet = Backend.Allocate(batch, 1);
        Backend.Fill(dLogDet, -1f / batch);
        var dx = Backend.Allocate(batch, features);
        flow.Transform.Backward(context, dz, dLogDet, dx);
        AssertClose(file["grad.x"].Values, dx.Span().ToArray(), $"{name} dL/dx");
        var grads = gradients.Span();
        foreach (var slot in flow.Layout.Slots)
            AssertClose(file["grad." + slot.Name].Values, grads.Slice(slot.Offset, slot.Length).ToArray(), $"{name} dL/d{slot.Name}");
    }

    /// <summary>Each invertible 1x1 convolution with its parameter prefix (the PyTorch module name).</summary>
    private static IEnumerable<(string Prefix, InvertibleConv1x1 Conv)> InvertibleConvolutions(ITransform transform, string prefix) => transform switch
    {
        Chain chain => chain.Transforms.SelectMany((t, i) => InvertibleConvolutions(t, $"{prefix}transforms.{i}.")),
        FactorOut factorOut => InvertibleConvolutions(factorOut.Inner, prefix + "inner."),
        InvertibleConv1x1 conv => [(prefix.TrimEnd('.'), conv)],
        _ => [],
    };

    /// <summary>Float32 engine vs float64 reference: within 1e-4 of the tensor's largest magnitude, or 1e-4 relative.</summary>
    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs((double)v));
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs((double)expected[i] - actual[i]);
            Assert.True(error <= 1e-4 * scale || error <= 1e-4 * Math.Abs(expected[i]), $"{what}[{i}]: PyTorch {expected[i]:R}, engine {actual[i]:R} (scale {scale:G4})");
        }
    }
}
