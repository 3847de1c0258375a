using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Neural;

/// <summary>
/// The fused 1x1 convolution, y = f(x · Wᵀ + b + residual), against the same sum in double, on both vector paths (a path
/// this processor lacks is skipped): pixel counts that leave a partial last tile and a short tail chunk, channel counts
/// that leave partial strips, and each part of the epilogue alone and together.
/// </summary>
public sealed class PointwiseConvolutionTests
{
    public static TheoryData<ManagedGemmPath, int, int, int> Shapes()
    {
        var data = new TheoryData<ManagedGemmPath, int, int, int>();
        foreach (var path in new[] { ManagedGemmPath.Vector512, ManagedGemmPath.Vector256 })
        {
            data.Add(path, 6272, 32, 32);    // the 28x28 level's residual 1x1 convolution, 8 images: whole chunks
            data.Add(path, 1568, 32, 32);    // the 14x14 level's
            data.Add(path, 8, 32, 32);       // exactly one AVX-512 tile
            data.Add(path, 6, 3, 5);         // exactly one AVX2 tile; fewer outputs than a strip
            data.Add(path, 70, 9, 37);       // one chunk and a tail shorter than a tile (it joins the chunk); a wide, a narrow and a partial strip
            data.Add(path, 131, 33, 64);     // tiles overlapping at the end of the last chunk; k = 33 not a whole vector
            data.Add(path, 100, 1, 2);       // one input channel, two outputs
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_the_sum_with_every_part_of_the_epilogue(ManagedGemmPath path, int pixels, int inChannels, int outChannels)
    {
        if (!PointwiseConvolution.Supports(pixels, path))
        {
            Assert.False(ManagedGemm.IsSupported(path) && pixels >= 8, $"{path} should run {pixels} pixels");
            return;
        }
        var x = KernelTestValues.Uniform(pixels * inChannels, seed: 1);
        var weight = KernelTestValues.Uniform(outChannels * inChannels, seed: 2);
        var bias = KernelTestValues.Uniform(outChannels, seed: 3);
        var residual = KernelTestValues.Uniform(pixels * outChannels, seed: 4);
        var conv = new double[pixels * outChannels];
        for (int p = 0; p < pixels; p++)
            for (int o = 0; o < outChannels; o++)
            {
                double sum = 0;
                for (int i = 0; i < inChannels; i++)
                    sum += (double)weight[o * inChannels + i] * x[p * inChannels + i];
                conv[p * outChannels + o] = sum;
            }

        var cases = new (string Name, float[] Bias, FusedActivation Activation, float[] Residual, Func<int, double> Expected)[]
        {
            ("plain", [], FusedActivation.Identity, [], i => conv[i]),
            ("residual", [], FusedActivation.Identity, residual, i => conv[i] + residual[i]),
            ("bias, relu", bias, FusedActivation.Relu, [], i => Math.Max(conv[i] + bias[i % outChannels], 0)),
            ("residual, bias, relu", bias, FusedActivation.Relu, residual, i => Math.Max(conv[i] + residual[i] + bias[i % outChannels], 0)),
            ("residual, bias, tanh", bias, FusedActivation.Tanh, residual, i => Math.Tanh(conv[i] + residual[i] + bias[i % outChannels])),
        };
        var y = new float[pixels * outChannels];
        foreach (var (name, b, activation, r, expected) in cases)
        {
            Array.Fill(y, float.NaN);    // every output is written, none read; each gets its epilogue once
            PointwiseConvolution.Forward(x, pixels, inChannels, weight, outChannels, y, b, activation, r, path);
            for (int i = 0; i < y.Length; i++)
                KernelTestValues.AssertClose(expected(i), y[i], $"{name}: y[{i}]");
        }
    }

    [Fact]
    public void Fewer_pixels_than_a_tile_are_left_to_the_gemm()
    {
        Assert.False(PointwiseConvolution.Supports(5, ManagedGemmPath.Vector256));
        Assert.False(PointwiseConvolution.Supports(7, ManagedGemmPath.Vector512));
        Assert.False(PointwiseConvolution.Supports(784, ManagedGemmPath.Scalar));
    }
}
