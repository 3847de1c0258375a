using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

// The layers with few channels on one side (an image flow's conditioner input, 1-2 channels, and output, 2-4 leaf
// parameters per pixel): there the GEMM's register tiles would run mostly empty, so these kernels block over pixels
// instead. Vector256 on both paths: these layers are bound by loads and memory traffic more than by FMAs, one kernel
// serves (and is tested on) both paths, and its horizontal sums are cheaper. (Vector512 dot-product tiles, tried on this
// Zen 5 EPYC, which has full-width 512-bit FMAs: no faster, 2.41-2.54 ms against 2.45-2.61 ms per 64-image scoring call
// for the 14x14 output layers; bench/RESULTS.md, issue 13, sixth pass.)
public static unsafe partial class DirectConvolution3x3
{
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
    /// and the 8 accumulators keep both FMA pipes busy. Vector256 on both paths (see the file's note).
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
}
