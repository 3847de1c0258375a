using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Neural;

/// <summary>
/// The im2col-free 3x3 convolution against <see cref="ReferenceConvolution"/>, on both vector paths (AVX-512 8 x 32 tiles
/// and AVX2 6 x 16 tiles; a path this processor lacks is skipped), for the forward and for the input gradient
/// (transposed, flipped weight), the fused bias and activation, and the weight gradient (GEMMs over the padded grid, or register accumulation over the
/// pixels for few inputs or few outputs), at widths that leave a partial last tile and channel counts that leave partial strips.
/// </summary>
public sealed class DirectConvolution3x3Tests
{
    public static TheoryData<ManagedGemmPath, int, int, int, int, int> Shapes()
    {
        var data = new TheoryData<ManagedGemmPath, int, int, int, int, int>();
        foreach (var path in new[] { ManagedGemmPath.Vector512, ManagedGemmPath.Vector256 })
        {
            data.Add(path, 2, 28, 28, 1, 32);     // Fashion-MNIST's input convolution
            data.Add(path, 2, 14, 14, 32, 4);     // a conditioner's output layer: fewer outputs than a strip
            data.Add(path, 1, 9, 8, 5, 37);       // the width is exactly one AVX-512 tile; 37 = a wide and a narrow strip and a tail
            data.Add(path, 3, 7, 11, 9, 64);      // 11 wide: two overlapping tiles
            data.Add(path, 1, 1, 6, 3, 2);        // one row: every vertical tap but the centre is padding
            data.Add(path, 2, 14, 14, 2, 32);     // the 14x14 level's input convolution (2 channels)
            data.Add(path, 2, 28, 28, 32, 2);     // the 28x28 level's output layer
            data.Add(path, 2, 5, 10, 7, 3);       // an odd output count, k = 21 not a whole number of vectors, 10 = 4 + 4 + 2 pixels
            data.Add(path, 2, 6, 9, 16, 3);       // the few-output weight gradient with an odd output count
            data.Add(path, 1, 7, 12, 3, 64);      // the few-input weight gradient: 3 inputs (k = 9 per kernel row), two 32-output blocks
            data.Add(path, 2, 6, 9, 12, 4);       // few outputs, k = 36: two 512-bit vectors and a scalar tail of 4
            data.Add(path, 2, 5, 9, 2, 37);       // few inputs (k = 6 per kernel row) into a wide, a narrow and a partial strip
            data.Add(path, 1, 5, 16, 40, 3);      // few outputs, k = 120: seven 512-bit vectors and a tail of 8 (one 256-bit vector on AVX2)
            // The 512-bit few-output tiles: 4 x 4 over a 10-wide row (tiles at 0, 4 and 6), 8 x 2 over an 11-wide one (0 and 3).
            data.Add(path, 1, 5, 10, 16, 4);
            data.Add(path, 2, 3, 11, 32, 2);
            data.Add(path, 1, 4, 9, 16, 2);       // 2 outputs, k = 48: the 256-bit weight gradient (the 512-bit one takes k in 96s for 2 outputs)
            // F(2x2, 3x3) (many channels on both sides, even sides): chunks of whole block rows that span images and end part-way.
            data.Add(path, 3, 28, 28, 32, 32);    // the 28x28 level's 32 -> 32 layer: 42 block rows in chunks of 4, the last 2 rows short
            data.Add(path, 2, 14, 14, 32, 32);    // the 14x14 level's: 7 tiles a row, chunks of 8 rows (56 tiles) spanning both images
            data.Add(path, 1, 10, 12, 16, 40);    // 40 outputs: a wide and a narrow strip and 8 padding columns in U and M
            data.Add(path, 2, 8, 6, 24, 16);      // k = 24 per GEMM, 6 wide (3 tiles a row), transposed: 16 -> 24
            // F(4x4, 3x3) (sides a multiple of 4): the 28x28 layer above; 40 outputs (padding columns in U and M); 24 inputs
            // (8-float transforms on the AVX-512 path too), 2 tiles a row, chunks spanning both images.
            data.Add(path, 1, 8, 12, 16, 40);
            data.Add(path, 2, 4, 8, 24, 16);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Matches_the_naive_convolution_and_its_input_gradient(ManagedGemmPath path, int images, int height, int width, int inChannels, int outChannels)
    {
        if (!DirectConvolution3x3.Supports(width, path))
        {
            Assert.False(ManagedGemm.IsSupported(path) && width >= 8, $"{path} should run {width}-wide images");
            return;
        }
        int pixels = images * height * width;
        var x = KernelTestValues.Uniform(pixels * inChannels, seed: 1);
        var weight = KernelTestValues.Uniform(outChannels * 9 * inChannels, seed: 2);
        var y = new float[pixels * outChannels];
        Array.Fill(y, float.NaN);    // every output is written, none read
        DirectConvolution3x3.Forward(x, images, height, width, inChannels, weight, outChannels, transposedWeight: false, y, path);
        var expected = ReferenceConvolution.Forward(x, images, height, width, inChannels, weight, outChannels, kernel: 3);
        for (int i = 0; i < expected.Length; i++)
            KernelTestValues.AssertClose(expected[i], y[i], $"y[{i}]");

        // The fused epilogue: y = f(conv + b), each output once (the overlapping last tile must not apply it twice).
        var bias = KernelTestValues.Uniform(outChannels, seed: 5);
        foreach (var (activation, f) in new (FusedActivation, Func<double, double>)[] { (FusedActivation.Relu, v => Math.Max(v, 0)), (FusedActivation.Tanh, Math.Tanh) })
        {
            Array.Fill(y, float.NaN);
            DirectConvolution3x3.Forward(x, images, height, width, inChannels, weight, outChannels, transposedWeight: false, y, bias, activation, path);
            for (int i = 0; i < expected.Length; i++)
                KernelTestValues.AssertClose(f(expected[i] + bias[i % outChannels]), y[i], $"{activation} y[{i}]");
        }

        var dy = KernelTestValues.Uniform(pixels * outChannels, seed: 3);
        var dx = new float[pixels * inChannels];
        Array.Fill(dx, float.NaN);
        var dWeight = KernelTestValues.Uniform(weight.Length, seed: 4);    // accumulated into
        var dWeightBefore = (float[])dWeight.Clone();
        DirectConvolution3x3.Backward(x, dy, images, height, width, inChannels, weight, outChannels, dWeight, dx, path);
        var (expectedDx, expectedDWeight) = ReferenceConvolution.Backward(x, images, height, width, inChannels, weight, outChannels, kernel: 3, dy);
        for (int i = 0; i < expectedDx.Length; i++)
            KernelTestValues.AssertClose(expectedDx[i], dx[i], $"dx[{i}]");
        for (int i = 0; i < expectedDWeight.Length; i++)
            KernelTestValues.AssertClose(dWeightBefore[i] + expectedDWeight[i], dWeight[i], $"dW[{i}]");
        // The transposed forward alone is the input gradient too.
        var transposed = new float[pixels * inChannels];
        DirectConvolution3x3.Forward(dy, images, height, width, outChannels, weight, inChannels, transposedWeight: true, transposed, path);
        Assert.Equal(dx, transposed);
    }

    [Theory]
    [InlineData(28, 28, 32, 32, true)]
    [InlineData(14, 14, 32, 32, true)]
    [InlineData(28, 28, 1, 32, false)]     // the input layer: few inputs
    [InlineData(28, 28, 32, 2, false)]     // the output layer: few outputs
    [InlineData(7, 7, 32, 32, false)]      // odd sides: no whole 2x2 output blocks
    [InlineData(14, 14, 36, 32, false)]    // 36 inputs: not whole 8-float vectors
    [InlineData(14, 14, 8, 32, false)]     // 8 inputs: too few for the transforms to pay
    public void Winograd_is_used_where_both_sides_have_many_channels_and_the_sides_are_even(int height, int width, int inChannels, int outChannels, bool expected) =>
        Assert.Equal(expected, DirectConvolution3x3.UsesWinograd(height, width, inChannels, outChannels));

    [Theory]
    [InlineData(28, 28, 32, 32, true)]
    [InlineData(14, 14, 32, 32, false)]    // 14 is no whole number of 4x4 blocks: F(2x2, 3x3)
    [InlineData(28, 28, 1, 32, false)]     // few inputs: no Winograd at all
    [InlineData(8, 12, 16, 40, true)]
    public void Winograd_4x4_is_used_where_both_sides_are_whole_4x4_blocks(int height, int width, int inChannels, int outChannels, bool expected) =>
        Assert.Equal(expected, DirectConvolution3x3.UsesWinograd4(height, width, inChannels, outChannels));

    [Theory]
    [InlineData(28, 28, 1e-5)]    // F(4x4, 3x3): G's sixths and the transforms' factors up to 8 round more
    [InlineData(14, 14, 1e-6)]    // F(2x2, 3x3): additions and halves only
    public void Winograd_rounding_stays_within_a_few_float_ulps_of_the_exact_sum(int height, int width, double bound)
    {
        // A conditioner's layer at nn.Conv2d's initial scale: inputs in ±1, weights in ±1/√fan_in, outputs of order 1.
        const int images = 2, channels = 32;
        var x = KernelTestValues.Uniform(images * height * width * channels, seed: 7);
        var weight = KernelTestValues.Uniform(channels * 9 * channels, seed: 8).Select(w => w / MathF.Sqrt(9 * channels)).ToArray();
        var y = new float[x.Length];
        DirectConvolution3x3.Forward(x, images, height, width, channels, weight, channels, transposedWeight: false, y);
        var expected = ReferenceConvolution.Forward(x, images, height, width, channels, weight, channels, kernel: 3);
        double error = 0, scale = 0;
        for (int i = 0; i < y.Length; i++)
        {
            error += (y[i] - expected[i]) * (y[i] - expected[i]);
            scale += expected[i] * expected[i];
        }
        Assert.InRange(Math.Sqrt(error / scale), 0, bound);
    }

    [Theory]
    [InlineData(14, 8, 4)]     // 28 wide: 4 block rows = 56 tiles, seven 8-row tiles
    [InlineData(7, 8, 8)]      // 14 wide: 8 block rows = 56 tiles (9 would be 63, one short of whole tiles)
    [InlineData(14, 6, 3)]     // AVX2's 6-row tiles: 3 rows = 42 tiles
    [InlineData(100, 8, 1)]    // wider than a chunk: one block row
    public void Winograd_chunks_hold_whole_block_rows_that_fill_whole_register_tiles(int tilesWide, int kernelRows, int expected) =>
        Assert.Equal(expected, DirectConvolution3x3.WinogradChunkRows(tilesWide, kernelRows));

    [Theory]
    [InlineData(ManagedGemmPath.Vector512, 14, 4, 96, "FourByFour")]
    [InlineData(ManagedGemmPath.Vector512, 28, 2, 96, "EightByTwo")]
    [InlineData(ManagedGemmPath.Vector512, 28, 2, 36, "PairsOfOutputs")]    // k not whole 16-float vectors
    [InlineData(ManagedGemmPath.Vector512, 28, 3, 96, "PairsOfOutputs")]    // 3 outputs
    [InlineData(ManagedGemmPath.Vector256, 14, 4, 96, "PairsOfOutputs")]    // the AVX2 path
    public void Few_output_layers_take_512_bit_tiles_on_the_avx512_path_where_k_is_whole_vectors(ManagedGemmPath path, int width, int outChannels, int kc,
        string expected) =>
        Assert.Equal(expected, DirectConvolution3x3.ChooseDotTile(width, outChannels, kc, path).ToString());

    [Fact]
    public void Images_narrower_than_a_tile_are_left_to_im2col()
    {
        Assert.False(DirectConvolution3x3.Supports(5, ManagedGemmPath.Vector256));
        Assert.False(DirectConvolution3x3.Supports(7, ManagedGemmPath.Vector512));
        Assert.False(DirectConvolution3x3.Supports(28, ManagedGemmPath.Scalar));
    }
}
