using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
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
/// image width must be at least Rows; narrower images take the im2col path (<see cref="Supports"/>).
/// </remarks>
public static unsafe class DirectConvolution3x3
{
    [ThreadStatic] private static float[]? t_padded;
    [ThreadStatic] private static float[]? t_weights;
    [ThreadStatic] private static float[]? t_gridX;
    [ThreadStatic] private static float[]? t_gridDy;

    /// <summary>True when <paramref name="path"/> is a vector path this processor runs and images of this width fit its tiles.</summary>
    public static bool Supports(int width, ManagedGemmPath path = ManagedGemmPath.Best)
    {
        path = path == ManagedGemmPath.Best ? ManagedGemm.BestPath : path;
        return path switch
        {
            ManagedGemmPath.Vector512 => Avx512MicroKernel.IsSupported && width >= Avx512MicroKernel.Rows,
            ManagedGemmPath.Vector256 => Avx2MicroKernel.IsSupported && width >= Avx2MicroKernel.Rows,
            _ => false,
        };
    }

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
        var epilogue = new Epilogue(bias, activation);
        if (outChannels <= DotProductOutputs)
            RunDotProducts(x, images, height, width, inChannels, weight, outChannels, transposedWeight, y, epilogue);
        else if (path == ManagedGemmPath.Vector512)
            Run<Avx512MicroKernel>(x, images, height, width, inChannels, weight, outChannels, transposedWeight, y, epilogue);
        else
            Run<Avx2MicroKernel>(x, images, height, width, inChannels, weight, outChannels, transposedWeight, y, epilogue);
    }

    /// <summary>The fused bias and activation of a layer's forward (none when the bias is empty), applied per output image row.</summary>
    private readonly ref struct Epilogue(ReadOnlySpan<float> bias, FusedActivation activation)
    {
        private readonly ReadOnlySpan<float> _bias = bias;

        public void Apply(float* row, int pixels, int channels)
        {
            if (_bias.IsEmpty)
                return;
            var values = new Span<float>(row, pixels * channels);
            BiasActivation.Forward(values, _bias, values, activation);
        }
    }

    /// <summary>
    /// dW += the weight gradient of <see cref="Forward"/> (not transposed) given dL/dy, and, when <paramref name="dx"/>
    /// is not empty, dx = its input gradient (overwritten). W and dW are [out, 9·in].
    /// </summary>
    /// <remarks>
    /// dW[:, ky-block] = Σ_q dy'[q]ᵀ · P[q + ky·(W + 2)], one GEMM (Aᵀ·B) per kernel row over the whole batch: P is the
    /// batch's zero-padded input, image after image, and dy' is dy laid out on the same padded grid (zero at the two
    /// padding columns and rows), so row q of B is the 3·in values under output pixel q's kernel row: rows in·1 apart,
    /// overlapping, read in place by the GEMM. No im2col.
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
        int paddedWidth = width + 2, imageRows = (height + 2) * paddedWidth;
        long gridRows = (long)images * imageRows;
        fixed (float* px = x, pdy = dy, pdw = dWeight)
        {
            float* grid = Scratch(ref t_gridX, gridRows * inChannels);
            for (int b = 0; b < images; b++)
                Pad(px + (long)b * height * width * inChannels, height, width, inChannels, grid + (long)b * imageRows * inChannels);
            if (inChannels <= FewChannels && outChannels % 32 == 0)
                WeightGradientFewInputs(grid, pdy, images, height, width, inChannels, outChannels, pdw);
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
        if (!dx.IsEmpty)
            Forward(dy, images, height, width, outChannels, weight, inChannels, transposedWeight: true, dx, path);
    }

    /// <summary>Input layers (1 or 2 channels of an image) have k = 3·in ≤ 12 per kernel row: too narrow for the GEMM's strips.</summary>
    private const int FewChannels = 4;

    /// <summary>
    /// dW[o, ky·3·in + j] += Σ_pixels dy[p, o] · P[p's window row ky][j] for few input channels: 3 values of j x 32
    /// outputs accumulate in 12 registers over every pixel of the batch (4 loads of dy, 3 broadcasts, 12 FMAs per
    /// pixel), read straight from dy and the padded grid, so no dy' grid is written. Needs out a multiple of 32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradientFewInputs(float* grid, float* dy, int images, int height, int width, int inChannels, int outChannels, float* dWeight)
    {
        int paddedWidth = width + 2, imageRows = (height + 2) * paddedWidth, kc = 3 * inChannels;
        for (int ky = 0; ky < 3; ky++)
            for (int j = 0; j < kc; j += 3)
                for (int o = 0; o < outChannels; o += 32)
                {
                    Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default;
                    Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default;
                    Vector256<float> s20 = default, s21 = default, s22 = default, s23 = default;
                    for (int b = 0; b < images; b++)
                        for (int h = 0; h < height; h++)
                        {
                            float* g = dy + ((long)b * height + h) * width * outChannels + o;
                            float* v = grid + ((long)b * imageRows + (h + ky) * paddedWidth) * inChannels + j;
                            for (int w = 0; w < width; w++, g += outChannels, v += inChannels)
                            {
                                var g0 = Vector256.Load(g);
                                var g1 = Vector256.Load(g + 8);
                                var g2 = Vector256.Load(g + 16);
                                var g3 = Vector256.Load(g + 24);
                                var x = Vector256.Create(v[0]);
                                s00 = Vector256.FusedMultiplyAdd(g0, x, s00);
                                s01 = Vector256.FusedMultiplyAdd(g1, x, s01);
                                s02 = Vector256.FusedMultiplyAdd(g2, x, s02);
                                s03 = Vector256.FusedMultiplyAdd(g3, x, s03);
                                x = Vector256.Create(v[1]);
                                s10 = Vector256.FusedMultiplyAdd(g0, x, s10);
                                s11 = Vector256.FusedMultiplyAdd(g1, x, s11);
                                s12 = Vector256.FusedMultiplyAdd(g2, x, s12);
                                s13 = Vector256.FusedMultiplyAdd(g3, x, s13);
                                x = Vector256.Create(v[2]);
                                s20 = Vector256.FusedMultiplyAdd(g0, x, s20);
                                s21 = Vector256.FusedMultiplyAdd(g1, x, s21);
                                s22 = Vector256.FusedMultiplyAdd(g2, x, s22);
                                s23 = Vector256.FusedMultiplyAdd(g3, x, s23);
                            }
                        }
                    // Column ky·kc + j + t of dW, rows o … o + 31: a strided scatter of 96 sums, once per layer.
                    float* column = dWeight + (long)o * 9 * inChannels + ky * kc + j;
                    AddColumn(column, 9 * inChannels, s00, s01, s02, s03);
                    AddColumn(column + 1, 9 * inChannels, s10, s11, s12, s13);
                    AddColumn(column + 2, 9 * inChannels, s20, s21, s22, s23);
                }
    }

    private static void AddColumn(float* column, nint stride, Vector256<float> s0, Vector256<float> s1, Vector256<float> s2, Vector256<float> s3)
    {
        for (int r = 0; r < 8; r++)
        {
            column[r * stride] += s0.GetElement(r);
            column[(r + 8) * stride] += s1.GetElement(r);
            column[(r + 16) * stride] += s2.GetElement(r);
            column[(r + 24) * stride] += s3.GetElement(r);
        }
    }

    /// <summary>
    /// dW[o, ky·kc + j] += Σ_pixels dy[p, o] · P[p's window row ky][j] for few outputs (a conditioner's last layer):
    /// 48 values of j x 2 outputs accumulate in 12 registers over every pixel of the batch (6 loads, 2 broadcasts,
    /// 12 FMAs per pixel) instead of an 8-row GEMM tile of which 2 or 4 rows are used. Needs 3·in a multiple of 48.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradientFewOutputs(float* grid, float* dy, int images, int height, int width, int inChannels, int outChannels, float* dWeight)
    {
        int paddedWidth = width + 2, imageRows = (height + 2) * paddedWidth, kc = 3 * inChannels;
        for (int ky = 0; ky < 3; ky++)
            for (int j = 0; j < kc; j += 48)
                for (int o = 0; o < outChannels; o += 2)
                {
                    // An odd last output pairs with itself and adds once.
                    int o1 = Math.Min(o + 1, outChannels - 1);
                    Vector256<float> s00 = default, s01 = default, s02 = default, s03 = default, s04 = default, s05 = default;
                    Vector256<float> s10 = default, s11 = default, s12 = default, s13 = default, s14 = default, s15 = default;
                    for (int b = 0; b < images; b++)
                        for (int h = 0; h < height; h++)
                        {
                            float* g = dy + ((long)b * height + h) * width * outChannels;
                            float* v = grid + ((long)b * imageRows + (h + ky) * paddedWidth) * inChannels + j;
                            for (int w = 0; w < width; w++, g += outChannels, v += inChannels)
                            {
                                var x0 = Vector256.Create(g[o]);
                                var x1 = Vector256.Create(g[o1]);
                                var p = Vector256.Load(v);
                                s00 = Vector256.FusedMultiplyAdd(p, x0, s00);
                                s10 = Vector256.FusedMultiplyAdd(p, x1, s10);
                                p = Vector256.Load(v + 8);
                                s01 = Vector256.FusedMultiplyAdd(p, x0, s01);
                                s11 = Vector256.FusedMultiplyAdd(p, x1, s11);
                                p = Vector256.Load(v + 16);
                                s02 = Vector256.FusedMultiplyAdd(p, x0, s02);
                                s12 = Vector256.FusedMultiplyAdd(p, x1, s12);
                                p = Vector256.Load(v + 24);
                                s03 = Vector256.FusedMultiplyAdd(p, x0, s03);
                                s13 = Vector256.FusedMultiplyAdd(p, x1, s13);
                                p = Vector256.Load(v + 32);
                                s04 = Vector256.FusedMultiplyAdd(p, x0, s04);
                                s14 = Vector256.FusedMultiplyAdd(p, x1, s14);
                                p = Vector256.Load(v + 40);
                                s05 = Vector256.FusedMultiplyAdd(p, x0, s05);
                                s15 = Vector256.FusedMultiplyAdd(p, x1, s15);
                            }
                        }
                    float* row = dWeight + (long)o * 9 * inChannels + ky * kc + j;
                    AddRow(row, s00, s01, s02, s03, s04, s05);
                    if (o1 != o)
                        AddRow(row + 9 * inChannels, s10, s11, s12, s13, s14, s15);
                }
    }

    private static void AddRow(float* row, Vector256<float> s0, Vector256<float> s1, Vector256<float> s2, Vector256<float> s3, Vector256<float> s4, Vector256<float> s5)
    {
        (Vector256.Load(row) + s0).Store(row);
        (Vector256.Load(row + 8) + s1).Store(row + 8);
        (Vector256.Load(row + 16) + s2).Store(row + 16);
        (Vector256.Load(row + 24) + s3).Store(row + 24);
        (Vector256.Load(row + 32) + s4).Store(row + 32);
        (Vector256.Load(row + 40) + s5).Store(row + 40);
    }

    /// <summary>
    /// Few outputs (a conditioner's last layer: 2 or 4 leaf parameters per pixel; the input gradient of a 1- or
    /// 2-channel input layer) would fill a fraction of a register tile's columns; there each output is a dot product
    /// of 3·in contiguous values per kernel row, vectorised along k, for 4 pixels x 2 outputs at once: each input
    /// vector loaded serves both outputs and each weight vector all 4 pixels (6 loads per 8 FMAs instead of 2 per 1),
    /// and the 8 accumulators keep both FMA pipes busy. Vector256 on both paths: on Zen 4 a 512-bit FMA is two
    /// 256-bit halves, and the horizontal sums are cheaper.
    /// </summary>
    private const int DotProductOutputs = 4;

    /// <summary>Pixels (consecutive along a row) per dot-product tile; images are at least this wide (<see cref="Supports"/>).</summary>
    private const int DotPixels = 4;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunDotProducts(ReadOnlySpan<float> x, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, bool transposedWeight, Span<float> y, Epilogue epilogue)
    {
        int paddedWidth = width + 2, imageFloats = (height + 2) * paddedWidth * inChannels, kc = 3 * inChannels;
        int vectorEnd = kc & ~7;
        fixed (float* px = x, pw = weight, py = y)
        {
            // wk[(ky·out + o)·kc + kx·in + i]: the forward weight is already in this order, W[o, ky·kc + (kx·in + i)].
            float* wk = pw;
            long weightStride = 9L * inChannels, kyStride = kc;
            if (transposedWeight)
            {
                wk = Scratch(ref t_weights, 3L * outChannels * kc);
                for (int ky = 0; ky < 3; ky++)
                    for (int o = 0; o < outChannels; o++)
                        for (int kx = 0; kx < 3; kx++)
                            for (int i = 0; i < inChannels; i++)
                                wk[((long)ky * outChannels + o) * kc + kx * inChannels + i] = pw[(long)i * 9 * outChannels + (8 - (ky * 3 + kx)) * outChannels + o];
                weightStride = kc;
                kyStride = (long)outChannels * kc;
            }
            float* image = Scratch(ref t_padded, imageFloats);
            float* sums = stackalloc float[2 * DotPixels];
            for (int b = 0; b < images; b++)
            {
                Pad(px + (long)b * height * width * inChannels, height, width, inChannels, image);
                for (int h = 0; h < height; h++)
                {
                    for (int start = 0; ; start += DotPixels)
                    {
                        // The last tile ends at the row's end, overlapping the one before (recomputing the same values).
                        int w0 = Math.Min(start, width - DotPixels);
                        float* yPixel = py + (((long)b * height + h) * width + w0) * outChannels;
                        for (int o = 0; o < outChannels; o += 2)
                        {
                            // An odd last output pairs with itself and stores once.
                            int o1 = Math.Min(o + 1, outChannels - 1);
                            DotTile(image + ((long)h * paddedWidth + w0) * inChannels, paddedWidth * inChannels, inChannels,
                                wk + o * weightStride, wk + o1 * weightStride, (nint)kyStride, kc, vectorEnd, sums);
                            for (int p = 0; p < DotPixels; p++)
                            {
                                yPixel[p * outChannels + o] = sums[2 * p];
                                yPixel[p * outChannels + o1] = sums[2 * p + 1];
                            }
                        }
                        if (w0 == width - DotPixels)
                            break;
                    }
                    epilogue.Apply(py + ((long)b * height + h) * width * outChannels, width, outChannels);
                }
            }
        }
    }

    /// <summary>
    /// sums[2p + j] = Σ_ky Σ_k a[ky·rowFloats + p·pixelStride + k] · w_j[ky·kyStride + k] for 4 pixels p and the two
    /// weight rows w_0, w_1, k &lt; kc (vectors up to vectorEnd, the rest scalar).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotTile(float* a, nint rowFloats, nint pixelStride, float* w0, float* w1, nint kyStride, int kc, int vectorEnd, float* sums)
    {
        Vector256<float> s00 = default, s01 = default, s10 = default, s11 = default;
        Vector256<float> s20 = default, s21 = default, s30 = default, s31 = default;
        for (int ky = 0; ky < 3; ky++)
        {
            float* a0 = a + ky * rowFloats, a1 = a0 + pixelStride, a2 = a1 + pixelStride, a3 = a2 + pixelStride;
            float* u = w0 + ky * kyStride, v = w1 + ky * kyStride;
            for (int k = 0; k < vectorEnd; k += 8)
            {
                var x0 = Vector256.Load(u + k);
                var x1 = Vector256.Load(v + k);
                var p = Vector256.Load(a0 + k);
                s00 = Vector256.FusedMultiplyAdd(p, x0, s00);
                s01 = Vector256.FusedMultiplyAdd(p, x1, s01);
                p = Vector256.Load(a1 + k);
                s10 = Vector256.FusedMultiplyAdd(p, x0, s10);
                s11 = Vector256.FusedMultiplyAdd(p, x1, s11);
                p = Vector256.Load(a2 + k);
                s20 = Vector256.FusedMultiplyAdd(p, x0, s20);
                s21 = Vector256.FusedMultiplyAdd(p, x1, s21);
                p = Vector256.Load(a3 + k);
                s30 = Vector256.FusedMultiplyAdd(p, x0, s30);
                s31 = Vector256.FusedMultiplyAdd(p, x1, s31);
            }
        }
        sums[0] = Vector256.Sum(s00);
        sums[1] = Vector256.Sum(s01);
        sums[2] = Vector256.Sum(s10);
        sums[3] = Vector256.Sum(s11);
        sums[4] = Vector256.Sum(s20);
        sums[5] = Vector256.Sum(s21);
        sums[6] = Vector256.Sum(s30);
        sums[7] = Vector256.Sum(s31);
        if (vectorEnd == kc)
            return;
        for (int ky = 0; ky < 3; ky++)
            for (int k = vectorEnd; k < kc; k++)
            {
                float u = w0[ky * kyStride + k], v = w1[ky * kyStride + k];
                for (int p = 0; p < DotPixels; p++)
                {
                    float value = a[ky * rowFloats + p * pixelStride + k];
                    sums[2 * p] = MathF.FusedMultiplyAdd(value, u, sums[2 * p]);
                    sums[2 * p + 1] = MathF.FusedMultiplyAdd(value, v, sums[2 * p + 1]);
                }
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TKernel>(ReadOnlySpan<float> x, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, bool transposedWeight, Span<float> y, Epilogue epilogue) where TKernel : struct, IGemmMicroKernel
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
                    epilogue.Apply(yRow, width, outChannels);
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

    private static float* Scratch(ref float[]? buffer, long floats)
    {
        // Pinned (pinned object heap) so the pointer stays valid; one per thread because shards convolve concurrently.
        if (buffer is null || buffer.Length < floats)
            buffer = GC.AllocateUninitializedArray<float>(checked((int)floats), pinned: true);
        return (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
    }
}
