using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Neural;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Neural;

/// <summary>
/// The image conditioner's forward and backward on the managed GEMM, where its convolutions are direct (Winograd's
/// F(4x4, 3x3) and F(2x2, 3x3), the few-output tiles, the 1x1 residual convolution with its epilogue fused), against the
/// same network on the reference GEMM, where every step is a pass of its own (im2col, GEMMs, the residual addition, the
/// bias and activation): outputs, the input gradient and every parameter gradient.
/// </summary>
public sealed class ConvResNetTests
{
    [Theory]
    [InlineData(FusedActivation.Relu, 2, 8, 8, 2, 16, 4)]    // 8x8: F(4x4, 3x3) forward, F(2x2, 3x3) weight gradient; few-output output layer
    [InlineData(FusedActivation.Elu, 2, 8, 8, 2, 16, 4)]     // a smooth activation: f′ read from the output as for ReLU
    [InlineData(FusedActivation.Relu, 1, 6, 10, 3, 16, 2)]   // 6x10: F(2x2, 3x3) only
    [InlineData(FusedActivation.Relu, 1, 9, 9, 1, 16, 2)]    // odd sides: the direct register tiles throughout
    public void The_direct_convolutions_match_im2col_and_separate_passes(FusedActivation activation, int images, int height, int width,
        int inChannels, int hidden, int outChannels)
    {
        var fused = Run(CpuBackend.Instance, activation, images, height, width, inChannels, hidden, outChannels);
        var separate = Run(new CpuBackend(GemmImplementation.Reference), activation, images, height, width, inChannels, hidden, outChannels);
        AssertClose(separate.Y, fused.Y, "y");
        AssertClose(separate.Dx, fused.Dx, "dx");
        foreach (var (name, expected) in separate.Gradients)
            AssertClose(expected, fused.Gradients[name], name);
    }

    private static (float[] Y, float[] Dx, Dictionary<string, float[]> Gradients) Run(CpuBackend backend, FusedActivation activation, int images,
        int height, int width, int inChannels, int hidden, int outChannels)
    {
        var net = new ConvResNet(inChannels, hidden, blocks: 2, outChannels, activation);
        var layout = new ParameterLayout();
        net.DeclareParameters(layout.Scope("net"));
        var initializer = new ParameterInitializer(layout, seed: 11);
        net.InitializeParameters(initializer, zeroOutput: false);
        var parameters = backend.Allocate(1, layout.Length);
        initializer.Values.CopyTo(parameters.Span());
        var gradients = backend.Allocate(1, layout.Length);
        var context = new FlowContext(backend, parameters, gradients);
        int rows = images * height * width;
        var x = Random(backend, rows, inChannels, seed: 12);
        var y = backend.Allocate(rows, outChannels);
        net.Forward(context, x, height, width, y);
        var dy = Random(backend, rows, outChannels, seed: 13);
        var dx = backend.Allocate(rows, inChannels);
        net.Backward(context, x, height, width, y, dy, dx);
        var perParameter = layout.Slots.ToDictionary(slot => slot.Name, slot => context.Grad(slot).Span().ToArray());
        return (y.Span().ToArray(), dx.Span().ToArray(), perParameter);
    }

    private static Tensor Random(CpuBackend backend, int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var t = backend.Allocate(rows, cols);
        var s = t.Span();
        for (int i = 0; i < s.Length; i++)
            s[i] = 2 * random.NextSingle() - 1;
        return t;
    }

    private static void AssertClose(float[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(v => Math.Abs((double)v));
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 1e-4 * (1 + scale), $"{what}[{i}]: im2col and separate passes {expected[i]}, direct {actual[i]}");
    }
}
