using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// A 3x3 convolution (stride 1, zero padding 1, no bias) on pixel rows (B·H·W) x C, channels last, computed
/// without im2col: y = Σ_ky rows(ky) · W_kyᵀ, where rows(ky) of an output pixel are the 3·C values of the three
/// input pixels above/on/below it, which lie side by side in a zero-padded copy of the input. The GEMM's register
/// tiles (<see cref="Avx512MicroKernel"/> 8 x 32, <see cref="Avx2MicroKernel"/> 6 x 16) run over Rows consecutive
/// pixels of one image row, k = 3·C per kernel row, the three kernel rows accumulated in C.
/// </summary>
/// <remarks>
/// Why: im2col writes 9·C floats per pixel (58 MB for a batch of 64 28x28 images at 32 channels) and the GEMM
/// reads them back; the padded copy is 1.15 C floats per pixel and stays in cache per image. The weight is
/// repacked per call (9·C·out floats, small) as [ky][kx][in][out padded to the tile's narrow width]. With
/// <c>transposedWeight</c> the same routine computes the input gradient of a convolution, dx = conv(dy, W'),
/// W'[i, (ky, kx, o)] = W[o, (2 - ky, 2 - kx, i)]: no col2im either. Output rows of an image row are covered by
/// tiles at 0, Rows, 2·Rows, …, and one last tile ending at W (overlapping, recomputing the same values), so the
/// image width must be at least Rows; narrower images take the im2col path (<see cref="Supports"/>). Layers with many
/// channels on both sides and even image sides compute by Winograd's F(2x2, 3x3) instead (<see cref="UsesWinograd"/>,
/// DirectConvolution3x3.Winograd.cs), and their forward by F(4x4, 3x3) where both sides are a multiple of 4
/// (<see cref="UsesWinograd4"/>, DirectConvolution3x3.Winograd4.cs).
/// </remarks>
public static unsafe partial class DirectConvolution3x3
{
    [ThreadStatic] private static float[]? t_padded;
    [ThreadStatic] private static float[]? t_weights;
    [ThreadStatic] private static float[]? t_gridX;
    [ThreadStatic] private static float[]? t_gridDy;

    /// <summary>True when <paramref name="path"/> is a vector path this processor runs and images of this width fit its tiles.</summary>
    public static bool Supports(int width, ManagedGemmPath path = ManagedGemmPath.Best) => ManagedGemm.FillsRegisterTile(width, path);

    /// <summary>
    /// y[(b,h,w), o] = Σ_{ky,kx,i} W[o, (ky·3 + kx)·in + i] · x[(b, h+ky-1, w+kx-1), i] (zero outside), overwriting y;
    /// with <paramref name="transposedWeight"/>, W is the [in', 9·out'] weight of the convolution whose input gradient
    /// this is (so <paramref name="x"/> has in' = W's rows channels and y has out' = W's columns / 9). With a
    /// <paramref name="bias"/> (out floats), y = f(conv + bias) for <paramref name="activation"/> f, applied to each image
    /// row of y right after its tiles are stored (while it is in L1), not in a second pass over y.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, bool transposedWeight, Span<float> y, ManagedGemmPath path = ManagedGemmPath.Best) =>
        Forward(x, images, height, width, inChannels, weight, outChannels, transposedWeight, y, [], FusedActivation.Identity, path);

    /// <inheritdoc cref="Forward(ReadOnlySpan{float}, int, int, int, int, ReadOnlySpan{float}, int, bool, Span{float}, ManagedGemmPath)"/>
    public static void Forward(ReadOnlySpan<float> x, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, bool transposedWeight, Span<float> y, ReadOnlySpan<float> bias, FusedActivation activation,
        ManagedGemmPath path = ManagedGemmPath.Best)
    {
        path = path == ManagedGemmPath.Best ? ManagedGemm.BestPath : path;
        if (!Supports(width, path))
            throw new PlatformNotSupportedException($"No direct 3x3 convolution on the {path} path for images {width} wide.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(images);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        long pixels = (long)images * height * width;
        if (x.Length < pixels * inChannels || y.Length < pixels * outChannels || weight.Length < 9L * inChannels * outChannels)
            throw new ArgumentException($"Buffers too small for {images} images of {height}x{width}, {inChannels} -> {outChannels} channels.");
        if (!bias.IsEmpty && bias.Length != outChannels)
            throw new ArgumentException($"The bias has {bias.Length} values, not one per output ({outChannels}).", nameof(bias));
        fixed (float* py = y, pb = bias)
            Convolve(x, images, height, width, inChannels, weight, outChannels, transposedWeight, y,
                new ConvolutionEpilogue(py, outChannels, bias.IsEmpty ? null : pb, activation), path);
    }

    /// <summary>
    /// <see cref="Forward"/>'s work after its checks (y pinned by the caller for the epilogue): the few-output dot products,
    /// F(4x4, 3x3), F(2x2, 3x3) or the register tiles over the padded image.
    /// </summary>
    private static void Convolve(ReadOnlySpan<float> x, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, bool transposedWeight, Span<float> y, ConvolutionEpilogue epilogue, ManagedGemmPath path)
    {
        if (outChannels <= DotProductOutputs)
            RunDotProducts(x, images, height, width, inChannels, weight, outChannels, transposedWeight, y, epilogue, path);
        else if (UsesWinograd(height, width, inChannels, outChannels))
        {
            bool wide = path == ManagedGemmPath.Vector512;
            fixed (float* px = x, pw = weight, py = y)
            {
                if (UsesWinograd4(height, width, inChannels, outChannels))
                {
                    if (wide)
                        RunWinograd4<Avx512MicroKernel>(px, images, height, width, inChannels, pw, outChannels, transposedWeight, py, epilogue);
                    else
                        RunWinograd4<Avx2MicroKernel>(px, images, height, width, inChannels, pw, outChannels, transposedWeight, py, epilogue);
                }
                else if (wide)
                    RunWinograd<Avx512MicroKernel>(px, images, height, width, inChannels, pw, outChannels, transposedWeight, py, epilogue);
                else
                    RunWinograd<Avx2MicroKernel>(px, images, height, width, inChannels, pw, outChannels, transposedWeight, py, epilogue);
            }
        }
        else if (path == ManagedGemmPath.Vector512)
            Run<Avx512MicroKernel>(x, images, height, width, inChannels, weight, outChannels, transposedWeight, y, epilogue);
        else
            Run<Avx2MicroKernel>(x, images, height, width, inChannels, weight, outChannels, transposedWeight, y, epilogue);
    }

    /// <summary>
    /// dW += the weight gradient of <see cref="Forward"/> (not transposed) given dL/dy, and, when <paramref name="dx"/>
    /// is not empty, dx = its input gradient (overwritten). W and dW are [out, 9·in].
    /// </summary>
    /// <remarks>
    /// dW[:, ky-block] = Σ_q dy'[q]ᵀ · P[q + ky·(W + 2)], one GEMM (Aᵀ·B) per kernel row over the whole batch: P is the
    /// batch's zero-padded input, image after image, and dy' is dy laid out on the same padded grid (zero at the two
    /// padding columns and rows), so row q of B is the 3·in values under output pixel q's kernel row: rows in·1 apart,
    /// overlapping, read in place by the GEMM. No im2col. Where <see cref="UsesWinograd"/>, dW comes from F(2x2, 3x3) run
    /// backwards instead (16 GEMMs over the tiles, 2.25x fewer multiply-adds), and dx is the transposed forward either way.
    /// </remarks>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, Span<float> dWeight, Span<float> dx, ManagedGemmPath path = ManagedGemmPath.Best)
    {
        path = path == ManagedGemmPath.Best ? ManagedGemm.BestPath : path;
        if (!Supports(width, path))
            throw new PlatformNotSupportedException($"No direct 3x3 convolution on the {path} path for images {width} wide.");
        long pixels = (long)images * height * width;
        if (x.Length < pixels * inChannels || dy.Length < pixels * outChannels || dWeight.Length < 9L * inChannels * outChannels
            || (!dx.IsEmpty && dx.Length < pixels * inChannels))
            throw new ArgumentException($"Buffers too small for {images} images of {height}x{width}, {inChannels} -> {outChannels} channels.");
        fixed (float* px = x, pdy = dy, pdw = dWeight)
        {
            if (UsesWinograd(height, width, inChannels, outChannels))
            {
                if (path == ManagedGemmPath.Vector512)
                    WeightGradientWinograd<Avx512MicroKernel>(px, pdy, images, height, width, inChannels, outChannels, pdw);
                else
                    WeightGradientWinograd<Avx2MicroKernel>(px, pdy, images, height, width, inChannels, outChannels, pdw);
            }
            else
                WeightGradientOnGrid(px, pdy, images, height, width, inChannels, outChannels, pdw, path);
        }
        if (!dx.IsEmpty)
            Forward(dy, images, height, width, outChannels, weight, inChannels, transposedWeight: true, dx, path);
    }

    /// <summary>dW += the weight gradient by one GEMM per kernel row over the batch's padded grid (see <see cref="Backward"/>), or the few-channel kernels.</summary>
    private static void WeightGradientOnGrid(float* px, float* pdy, int images, int height, int width, int inChannels, int outChannels, float* pdw,
        ManagedGemmPath path)
    {
        int paddedWidth = width + 2, imageRows = (height + 2) * paddedWidth;
        long gridRows = (long)images * imageRows;
        float* grid = Scratch(ref t_gridX, gridRows * inChannels);
        for (int b = 0; b < images; b++)
            Pad(px + (long)b * height * width * inChannels, height, width, inChannels, grid + (long)b * imageRows * inChannels);
        if (inChannels <= FewChannels && outChannels % 32 == 0)
            WeightGradientFewInputs(grid, pdy, images, height, width, inChannels, outChannels, pdw);
        else if (path == ManagedGemmPath.Vector512 && (outChannels == 4 && 3 * inChannels % 48 == 0 || outChannels == 2 && 3 * inChannels % 96 == 0))
            WeightGradientFewOutputsWide(grid, pdy, images, height, width, inChannels, outChannels, pdw);
        else if (outChannels <= DotProductOutputs && 3 * inChannels % 48 == 0)
            WeightGradientFewOutputs(grid, pdy, images, height, width, inChannels, outChannels, pdw);
        else
        {
            // dy' on the grid: output pixel (h, w) sits where its window's top-left input does, at (h, w) of the padded
            // image; the two padding columns of each row and the two padding rows are zero (written, not cleared first).
            float* gradient = Scratch(ref t_gridDy, gridRows * outChannels);
            for (int b = 0; b < images; b++)
            {
                float* image = gradient + (long)b * imageRows * outChannels;
                for (int h = 0; h < height; h++)
                {
                    float* row = image + (long)h * paddedWidth * outChannels;
                    new ReadOnlySpan<float>(pdy + ((long)b * height + h) * width * outChannels, width * outChannels)
                        .CopyTo(new Span<float>(row, width * outChannels));
                    new Span<float>(row + (long)width * outChannels, 2 * outChannels).Clear();
                }
                new Span<float>(image + (long)height * paddedWidth * outChannels, 2 * paddedWidth * outChannels).Clear();
            }
            // The last output pixel's row: later grid rows are padding (dy' zero) and their windows would run past P.
            int k = checked((int)((images - 1L) * imageRows + (height - 1L) * paddedWidth + width));
            int n = 3 * inChannels;
            // B's last row read, (k - 1)·in + 3·in floats past row ky·(W + 2), ends exactly at the grid's end for ky = 2.
            for (int ky = 0; ky < 3; ky++)
                ManagedGemm.RunOverlappingB(outChannels, n, k, 1f, gradient, outChannels, transposeA: true,
                    grid + (long)ky * paddedWidth * inChannels, inChannels, 1f, pdw + ky * n, 9 * inChannels, path);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TKernel>(ReadOnlySpan<float> x, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, bool transposedWeight, Span<float> y, ConvolutionEpilogue epilogue) where TKernel : struct, IGemmMicroKernel
    {
        int rows = TKernel.Rows, wide = TKernel.Width, narrow = wide / 2;
        int padded = (outChannels + narrow - 1) / narrow * narrow;
        int paddedWidth = width + 2, imageFloats = (height + 2) * paddedWidth * inChannels;
        float* tile = stackalloc float[8 * 32];
        fixed (float* px = x, pw = weight, py = y)
        {
            float* packed = Scratch(ref t_weights, 9L * inChannels * padded);
            PackWeights(pw, inChannels, outChannels, padded, transposedWeight, packed);
            float* image = Scratch(ref t_padded, imageFloats);
            int kc = 3 * inChannels;
            for (int b = 0; b < images; b++)
            {
                // One image at a time: its padded copy (28x28x32: 115 KB) stays in L2 while the tiles read it.
                Pad(px + (long)b * height * width * inChannels, height, width, inChannels, image);
                for (int h = 0; h < height; h++)
                {
                    float* yRow = py + ((long)b * height + h) * width * outChannels;
                    for (int start = 0; ; start += rows)
                    {
                        int w0 = Math.Min(start, width - rows);
                        for (int j0 = 0; j0 < padded; )
                        {
                            int strip = padded - j0 >= wide ? wide : narrow;
                            bool direct = j0 + strip <= outChannels;
                            float* c = direct ? yRow + (long)w0 * outChannels + j0 : tile;
                            nint ldc = direct ? outChannels : wide;
                            for (int ky = 0; ky < 3; ky++)
                            {
                                float* a = image + ((h + ky) * paddedWidth + w0) * inChannels;
                                float* bp = packed + (long)ky * kc * padded + j0;
                                float beta = ky == 0 ? 0f : 1f;
                                if (strip == wide)
                                    TKernel.Wide(a, inChannels, 1, bp, padded, kc, c, ldc, 1f, beta);
                                else
                                    TKernel.Narrow(a, inChannels, 1, bp, padded, kc, c, ldc, 1f, beta);
                            }
                            if (!direct)
                            {
                                int keep = outChannels - j0;
                                for (int r = 0; r < rows; r++)
                                    new ReadOnlySpan<float>(tile + r * wide, keep).CopyTo(new Span<float>(yRow + (long)(w0 + r) * outChannels + j0, keep));
                            }
                            j0 += strip;
                        }
                        if (w0 == width - rows)
                            break;
                    }
                    epilogue.Apply(yRow, width);
                }
            }
        }
    }

    /// <summary>dst[((ky·3 + kx)·in + i)·padded + o] = the tap's weight from input channel i to output o; zero for o ≥ out.</summary>
    private static void PackWeights(float* w, int inChannels, int outChannels, int padded, bool transposed, float* dst)
    {
        new Span<float>(dst, checked(9 * inChannels * padded)).Clear();
        for (int tap = 0; tap < 9; tap++)
            for (int i = 0; i < inChannels; i++)
            {
                float* row = dst + ((long)tap * inChannels + i) * padded;
                if (!transposed)
                {
                    // W is [out, 9·in]: W[o, tap·in + i].
                    for (int o = 0; o < outChannels; o++)
                        row[o] = w[(long)o * 9 * inChannels + tap * inChannels + i];
                }
                else
                {
                    // W is the forward layer's [out' = inChannels, 9·in' = 9·outChannels], flipped: W[i, (8 - tap)·out + o].
                    for (int o = 0; o < outChannels; o++)
                        row[o] = w[(long)i * 9 * outChannels + (8 - tap) * outChannels + o];
                }
            }
    }

    /// <summary>One image into a (H + 2) x (W + 2) x C buffer with a zero border.</summary>
    private static void Pad(float* x, int height, int width, int channels, float* dst)
    {
        int rowFloats = (width + 2) * channels;
        new Span<float>(dst, rowFloats).Clear();
        new Span<float>(dst + (long)(height + 1) * rowFloats, rowFloats).Clear();
        for (int h = 0; h < height; h++)
        {
            float* row = dst + (long)(h + 1) * rowFloats;
            new Span<float>(row, channels).Clear();
            new ReadOnlySpan<float>(x + (long)h * width * channels, width * channels).CopyTo(new Span<float>(row + channels, width * channels));
            new Span<float>(row + (long)(width + 1) * channels, channels).Clear();
        }
    }

    /// <summary>The kernels' per-thread scratch (<see cref="AlignedScratch"/>).</summary>
    private static float* Scratch(ref float[]? buffer, long floats) => AlignedScratch.Get(ref buffer, floats);
}
