using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Neural;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Neural;

/// <summary>The im2col + GEMM convolution against the naive direct loops of <see cref="ReferenceConvolution"/>, forward and backward.</summary>
public sealed class Conv2dTests
{
    private static readonly CpuBackend Backend = CpuBackend.Instance;

    [Theory]
    [InlineData(3, 1, 1, 1, 1, 1)]      // a single pixel: every tap but the centre is padding
    [InlineData(3, 2, 5, 3, 2, 4)]      // odd width, more outputs than inputs
    [InlineData(3, 3, 7, 6, 9, 5)]      // channel counts that are not multiples of any SIMD width
    [InlineData(3, 1, 28, 28, 1, 3)]    // Fashion-MNIST's size
    [InlineData(1, 2, 4, 3, 5, 7)]
    public void Matches_the_naive_convolution_forward_and_backward(int kernel, int images, int height, int width, int inChannels, int outChannels)
    {
        var conv = new Conv2d(inChannels, outChannels, kernel, FusedActivation.Identity);
        var layout = new ParameterLayout();
        conv.DeclareParameters(layout.Scope("conv"));
        var initializer = new ParameterInitializer(layout, seed: 3);
        conv.InitializeParameters(initializer, zero: false);
        var parameters = Backend.Allocate(1, layout.Length);
        initializer.Values.CopyTo(parameters.Span());
        var context = new FlowContext(Backend, parameters, Backend.Allocate(1, layout.Length));
        int rows = images * height * width;
        var x = Random(rows, inChannels, seed: 4);
        var y = Backend.Allocate(rows, outChannels);
        conv.Forward(context, x, height, width, y);

        var weight = context.Param(conv.Weight).Span();
        var bias = context.Param(conv.Bias).Span();
        var expected = ReferenceConvolution.Forward(x.Span(), images, height, width, inChannels, weight, outChannels, kernel);
        for (int e = 0; e < expected.Length; e++)
            AssertClose(expected[e] + bias[e % outChannels], y.Span()[e], $"y[{e}]");

        var dy = Random(rows, outChannels, seed: 5);
        var dyCopy = dy.Span().ToArray();
        var dx = Backend.Allocate(rows, inChannels);
        conv.Backward(context, x, height, width, y, dy, dx);
        var (expectedDx, expectedDWeight) = ReferenceConvolution.Backward(x.Span(), images, height, width, inChannels, weight, outChannels, kernel, dyCopy);
        for (int e = 0; e < expectedDx.Length; e++)
            AssertClose(expectedDx[e], dx.Span()[e], $"dx[{e}]");
        var dWeight = context.Grad(conv.Weight).Span();
        for (int e = 0; e < expectedDWeight.Length; e++)
            AssertClose(expectedDWeight[e], dWeight[e], $"dW[{e}]");
        var dBias = context.Grad(conv.Bias).Span();
        for (int o = 0; o < outChannels; o++)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++)
                sum += dyCopy[r * outChannels + o];
            AssertClose(sum, dBias[o], $"db[{o}]");
        }
    }

    [Fact]
    public void Im2col_and_col2im_are_adjoint()
    {
        // <im2col(x), c> = <x, col2im(c)> for any x and c: col2im is the exact transpose.
        const int height = 5, width = 4, channels = 3, images = 2;
        var x = Random(images * height * width, channels, seed: 8);
        var c = Random(images * height * width, 9 * channels, seed: 9);
        var columns = Backend.Allocate(c.Rows, c.Cols);
        Backend.Im2Col3x3(x, height, width, columns);
        var back = Backend.Allocate(x.Rows, x.Cols);
        Backend.Col2Im3x3(c, height, width, back);
        double left = 0, right = 0;
        for (int i = 0; i < c.Length; i++)
            left += (double)columns.Span()[i] * c.Span()[i];
        for (int i = 0; i < x.Length; i++)
            right += (double)x.Span()[i] * back.Span()[i];
        Assert.True(Math.Abs(left - right) <= 1e-4 * Math.Abs(left), $"<im2col x, c> = {left}, <x, col2im c> = {right}");
    }

    private static void AssertClose(double expected, float actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= 1e-5 + 1e-5 * Math.Abs(expected), $"{what}: reference {expected}, im2col + GEMM {actual}");

    private static Tensor Random(int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var t = Backend.Allocate(rows, cols);
        var s = t.Span();
        for (int i = 0; i < s.Length; i++)
            s[i] = 2 * random.NextSingle() - 1;
        return t;
    }
}
