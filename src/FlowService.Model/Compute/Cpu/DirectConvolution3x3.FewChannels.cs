using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FlowService.Model.Compute.Cpu;

// The layers with few channels on one side (an image flow's conditioner input, 1-2 channels, and output, 2-4 leaf
// parameters per pixel): there the GEMM's register tiles would run mostly empty, so these kernels block over pixels
// instead. The dot products of the few-output layers take 512-bit vectors on the AVX-512 path only in tiles of 16
// accumulators (4 pixels x 4 outputs, 8 x 2) reduced four sums at a time: the same 4 x 2 tile in 512-bit vectors, tried
// first, was no faster than in 256-bit ones (its loads and one-by-one horizontal sums bound it; bench/RESULTS.md, issue
// 13, sixth pass), while the 4 x 4 tile runs a 14x14 output layer 1.6x faster (tenth pass). The rest is Vector256 on
// both paths: bound by loads and memory traffic more than by FMAs.
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

    /// <summary>
    /// <see cref="WeightGradientFewOutputs"/> in 512-bit vectors on the AVX-512 path, for exactly 4 outputs (48 values of j x 4
    /// outputs in 12 registers: 3 loads, 4 broadcasts, 12 FMAs per pixel) or 2 (96 values of j x 2 outputs: 6 loads, 2
    /// broadcasts, 12 FMAs): half the instructions of the 256-bit pairs. Needs 3·in a multiple of 48 (4 outputs) or 96 (2).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradientFewOutputsWide(float* grid, float* dy, int images, int height, int width, int inChannels, int outChannels, float* dWeight)
    {
        int paddedWidth = width + 2, imageRows = (height + 2) * paddedWidth, kc = 3 * inChannels;
        bool four = outChannels == 4;
        int block = four ? 48 : 96;
        for (int ky = 0; ky < 3; ky++)
            for (int j = 0; j < kc; j += block)
            {
                // Four outputs: s[o][v] for o < 4, v < 3. Two: s[o][v] for o < 2, v < 6, kept in the same 12 registers.
                Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, s4 = default, s5 = default;
                Vector512<float> s6 = default, s7 = default, s8 = default, s9 = default, s10 = default, s11 = default;
                for (int b = 0; b < images; b++)
                    for (int h = 0; h < height; h++)
                    {
                        float* g = dy + ((long)b * height + h) * width * outChannels;
                        float* v = grid + ((long)b * imageRows + (h + ky) * paddedWidth) * inChannels + j;
                        if (four)
                        {
                            for (int w = 0; w < width; w++, g += 4, v += inChannels)
                            {
                                var p0 = Vector512.Load(v);
                                var p1 = Vector512.Load(v + 16);
                                var p2 = Vector512.Load(v + 32);
                                var x = Vector512.Create(g[0]);
                                s0 = Vector512.FusedMultiplyAdd(p0, x, s0);
                                s1 = Vector512.FusedMultiplyAdd(p1, x, s1);
                                s2 = Vector512.FusedMultiplyAdd(p2, x, s2);
                                x = Vector512.Create(g[1]);
                                s3 = Vector512.FusedMultiplyAdd(p0, x, s3);
                                s4 = Vector512.FusedMultiplyAdd(p1, x, s4);
                                s5 = Vector512.FusedMultiplyAdd(p2, x, s5);
                                x = Vector512.Create(g[2]);
                                s6 = Vector512.FusedMultiplyAdd(p0, x, s6);
                                s7 = Vector512.FusedMultiplyAdd(p1, x, s7);
                                s8 = Vector512.FusedMultiplyAdd(p2, x, s8);
                                x = Vector512.Create(g[3]);
                                s9 = Vector512.FusedMultiplyAdd(p0, x, s9);
                                s10 = Vector512.FusedMultiplyAdd(p1, x, s10);
                                s11 = Vector512.FusedMultiplyAdd(p2, x, s11);
                            }
                        }
                        else
                        {
                            for (int w = 0; w < width; w++, g += 2, v += inChannels)
                            {
                                var x0 = Vector512.Create(g[0]);
                                var x1 = Vector512.Create(g[1]);
                                var p = Vector512.Load(v);
                                s0 = Vector512.FusedMultiplyAdd(p, x0, s0);
                                s6 = Vector512.FusedMultiplyAdd(p, x1, s6);
                                p = Vector512.Load(v + 16);
                                s1 = Vector512.FusedMultiplyAdd(p, x0, s1);
                                s7 = Vector512.FusedMultiplyAdd(p, x1, s7);
                                p = Vector512.Load(v + 32);
                                s2 = Vector512.FusedMultiplyAdd(p, x0, s2);
                                s8 = Vector512.FusedMultiplyAdd(p, x1, s8);
                                p = Vector512.Load(v + 48);
                                s3 = Vector512.FusedMultiplyAdd(p, x0, s3);
                                s9 = Vector512.FusedMultiplyAdd(p, x1, s9);
                                p = Vector512.Load(v + 64);
                                s4 = Vector512.FusedMultiplyAdd(p, x0, s4);
                                s10 = Vector512.FusedMultiplyAdd(p, x1, s10);
                                p = Vector512.Load(v + 80);
                                s5 = Vector512.FusedMultiplyAdd(p, x0, s5);
                                s11 = Vector512.FusedMultiplyAdd(p, x1, s11);
                            }
                        }
                    }
                float* row = dWeight + (long)ky * kc + j;
                long stride = 9L * inChannels;
                if (four)
                {
                    AddRow(row, s0, s1, s2);
                    AddRow(row + stride, s3, s4, s5);
                    AddRow(row + 2 * stride, s6, s7, s8);
                    AddRow(row + 3 * stride, s9, s10, s11);
                }
                else
                {
                    AddRow(row, s0, s1, s2);
                    AddRow(row + 48, s3, s4, s5);
                    AddRow(row + stride, s6, s7, s8);
                    AddRow(row + stride + 48, s9, s10, s11);
                }
            }
    }

    private static void AddRow(float* row, Vector512<float> s0, Vector512<float> s1, Vector512<float> s2)
    {
        (Vector512.Load(row) + s0).Store(row);
        (Vector512.Load(row + 16) + s1).Store(row + 16);
        (Vector512.Load(row + 32) + s2).Store(row + 32);
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
    /// and the 8 accumulators keep both FMA pipes busy; on the AVX-512 path 4 and 2 outputs take the 16-accumulator
    /// 512-bit tiles instead (<see cref="ChooseDotTile"/>).
    /// </summary>
    private const int DotProductOutputs = 4;

    /// <summary>Pixels (consecutive along a row) per dot-product tile; images are at least this wide (<see cref="Supports"/>).</summary>
    private const int DotPixels = 4;

    /// <summary>The register tile of the few-output dot products.</summary>
    internal enum DotTileKind
    {
        /// <summary>4 pixels x 2 outputs in 256-bit vectors, pairs of outputs in turn: any k, either path.</summary>
        PairsOfOutputs,

        /// <summary>4 pixels x 4 outputs in 512-bit vectors (a 14x14 conditioner's output layer, 32 -> 4).</summary>
        FourByFour,

        /// <summary>8 pixels x 2 outputs in 512-bit vectors (a 28x28 conditioner's output layer, 32 -> 2; rows of at least 8).</summary>
        EightByTwo,
    }

    /// <summary>
    /// The 512-bit tiles where the AVX-512 path runs and k = 3·in is whole 16-float vectors, for 4 or 2 outputs; 16
    /// accumulators each, so each vector loaded serves 2 to 4 FMAs and the 16 sums are reduced 4 at a time
    /// (<see cref="Reduce4"/>), not one by one. Else the 256-bit pairs.
    /// </summary>
    internal static DotTileKind ChooseDotTile(int width, int outChannels, int kc, ManagedGemmPath path)
    {
        if (path != ManagedGemmPath.Vector512 || kc % 16 != 0)
            return DotTileKind.PairsOfOutputs;
        return outChannels switch
        {
            4 => DotTileKind.FourByFour,
            2 when width >= 8 => DotTileKind.EightByTwo,
            _ => DotTileKind.PairsOfOutputs,
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunDotProducts(ReadOnlySpan<float> x, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, bool transposedWeight, Span<float> y, ConvolutionEpilogue epilogue, ManagedGemmPath path)
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
            var tile = ChooseDotTile(width, outChannels, kc, path);
            int tilePixels = tile switch { DotTileKind.FourByFour => 4, DotTileKind.EightByTwo => 8, _ => DotPixels };
            for (int b = 0; b < images; b++)
            {
                Pad(px + (long)b * height * width * inChannels, height, width, inChannels, image);
                for (int h = 0; h < height; h++)
                {
                    for (int start = 0; ; start += tilePixels)
                    {
                        // The last tile ends at the row's end, overlapping the one before (recomputing the same values).
                        int w0 = Math.Min(start, width - tilePixels);
                        float* a = image + ((long)h * paddedWidth + w0) * inChannels;
                        float* yPixel = py + (((long)b * height + h) * width + w0) * outChannels;
                        if (tile == DotTileKind.FourByFour)
                            DotTile4x4(a, paddedWidth * inChannels, inChannels, wk, (nint)weightStride, (nint)kyStride, kc, yPixel);
                        else if (tile == DotTileKind.EightByTwo)
                            DotTile8x2(a, paddedWidth * inChannels, inChannels, wk, (nint)weightStride, (nint)kyStride, kc, yPixel);
                        else
                        {
                            for (int o = 0; o < outChannels; o += 2)
                            {
                                // An odd last output pairs with itself and stores once.
                                int o1 = Math.Min(o + 1, outChannels - 1);
                                DotTile(a, paddedWidth * inChannels, inChannels,
                                    wk + o * weightStride, wk + o1 * weightStride, (nint)kyStride, kc, vectorEnd, sums);
                                for (int p = 0; p < DotPixels; p++)
                                {
                                    yPixel[p * outChannels + o] = sums[2 * p];
                                    yPixel[p * outChannels + o1] = sums[2 * p + 1];
                                }
                            }
                        }
                        if (w0 == width - tilePixels)
                            break;
                    }
                    epilogue.Apply(py + ((long)b * height + h) * width * outChannels, width);
                }
            }
        }
    }

    /// <summary>
    /// y[4p + j] = Σ_ky Σ_k a[ky·rowFloats + p·pixelStride + k] · w[j·weightStride + ky·kyStride + k] for 4 pixels p and 4
    /// outputs j (k &lt; kc, whole 16-float vectors): the tile's outputs in y's own layout, pixel after pixel.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotTile4x4(float* a, nint rowFloats, nint pixelStride, float* w, nint weightStride, nint kyStride, int kc, float* y)
    {
        Vector512<float> s00 = default, s01 = default, s02 = default, s03 = default;
        Vector512<float> s10 = default, s11 = default, s12 = default, s13 = default;
        Vector512<float> s20 = default, s21 = default, s22 = default, s23 = default;
        Vector512<float> s30 = default, s31 = default, s32 = default, s33 = default;
        for (int ky = 0; ky < 3; ky++)
        {
            float* a0 = a + ky * rowFloats, a1 = a0 + pixelStride, a2 = a1 + pixelStride, a3 = a2 + pixelStride;
            float* u0 = w + ky * kyStride, u1 = u0 + weightStride, u2 = u1 + weightStride, u3 = u2 + weightStride;
            for (int k = 0; k < kc; k += 16)
            {
                var w0 = Vector512.Load(u0 + k);
                var w1 = Vector512.Load(u1 + k);
                var w2 = Vector512.Load(u2 + k);
                var w3 = Vector512.Load(u3 + k);
                var p = Vector512.Load(a0 + k);
                s00 = Vector512.FusedMultiplyAdd(p, w0, s00);
                s01 = Vector512.FusedMultiplyAdd(p, w1, s01);
                s02 = Vector512.FusedMultiplyAdd(p, w2, s02);
                s03 = Vector512.FusedMultiplyAdd(p, w3, s03);
                p = Vector512.Load(a1 + k);
                s10 = Vector512.FusedMultiplyAdd(p, w0, s10);
                s11 = Vector512.FusedMultiplyAdd(p, w1, s11);
                s12 = Vector512.FusedMultiplyAdd(p, w2, s12);
                s13 = Vector512.FusedMultiplyAdd(p, w3, s13);
                p = Vector512.Load(a2 + k);
                s20 = Vector512.FusedMultiplyAdd(p, w0, s20);
                s21 = Vector512.FusedMultiplyAdd(p, w1, s21);
                s22 = Vector512.FusedMultiplyAdd(p, w2, s22);
                s23 = Vector512.FusedMultiplyAdd(p, w3, s23);
                p = Vector512.Load(a3 + k);
                s30 = Vector512.FusedMultiplyAdd(p, w0, s30);
                s31 = Vector512.FusedMultiplyAdd(p, w1, s31);
                s32 = Vector512.FusedMultiplyAdd(p, w2, s32);
                s33 = Vector512.FusedMultiplyAdd(p, w3, s33);
            }
        }
        Reduce4(s00, s01, s02, s03).Store(y);
        Reduce4(s10, s11, s12, s13).Store(y + 4);
        Reduce4(s20, s21, s22, s23).Store(y + 8);
        Reduce4(s30, s31, s32, s33).Store(y + 12);
    }

    /// <summary>As <see cref="DotTile4x4"/> for 8 pixels and 2 outputs: y[2p + j].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotTile8x2(float* a, nint rowFloats, nint pixelStride, float* w, nint weightStride, nint kyStride, int kc, float* y)
    {
        Vector512<float> s00 = default, s01 = default, s10 = default, s11 = default;
        Vector512<float> s20 = default, s21 = default, s30 = default, s31 = default;
        Vector512<float> s40 = default, s41 = default, s50 = default, s51 = default;
        Vector512<float> s60 = default, s61 = default, s70 = default, s71 = default;
        for (int ky = 0; ky < 3; ky++)
        {
            float* a0 = a + ky * rowFloats;
            float* u0 = w + ky * kyStride, u1 = u0 + weightStride;
            for (int k = 0; k < kc; k += 16)
            {
                var w0 = Vector512.Load(u0 + k);
                var w1 = Vector512.Load(u1 + k);
                var p = Vector512.Load(a0 + k);
                s00 = Vector512.FusedMultiplyAdd(p, w0, s00);
                s01 = Vector512.FusedMultiplyAdd(p, w1, s01);
                p = Vector512.Load(a0 + pixelStride + k);
                s10 = Vector512.FusedMultiplyAdd(p, w0, s10);
                s11 = Vector512.FusedMultiplyAdd(p, w1, s11);
                p = Vector512.Load(a0 + 2 * pixelStride + k);
                s20 = Vector512.FusedMultiplyAdd(p, w0, s20);
                s21 = Vector512.FusedMultiplyAdd(p, w1, s21);
                p = Vector512.Load(a0 + 3 * pixelStride + k);
                s30 = Vector512.FusedMultiplyAdd(p, w0, s30);
                s31 = Vector512.FusedMultiplyAdd(p, w1, s31);
                p = Vector512.Load(a0 + 4 * pixelStride + k);
                s40 = Vector512.FusedMultiplyAdd(p, w0, s40);
                s41 = Vector512.FusedMultiplyAdd(p, w1, s41);
                p = Vector512.Load(a0 + 5 * pixelStride + k);
                s50 = Vector512.FusedMultiplyAdd(p, w0, s50);
                s51 = Vector512.FusedMultiplyAdd(p, w1, s51);
                p = Vector512.Load(a0 + 6 * pixelStride + k);
                s60 = Vector512.FusedMultiplyAdd(p, w0, s60);
                s61 = Vector512.FusedMultiplyAdd(p, w1, s61);
                p = Vector512.Load(a0 + 7 * pixelStride + k);
                s70 = Vector512.FusedMultiplyAdd(p, w0, s70);
                s71 = Vector512.FusedMultiplyAdd(p, w1, s71);
            }
        }
        Reduce4(s00, s01, s10, s11).Store(y);
        Reduce4(s20, s21, s30, s31).Store(y + 4);
        Reduce4(s40, s41, s50, s51).Store(y + 8);
        Reduce4(s60, s61, s70, s71).Store(y + 12);
    }

    /// <summary>[Σ a, Σ b, Σ c, Σ d]: the four 16-lane sums, by halving (256, 128 bits) then one 4x4 transpose-add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> Reduce4(Vector512<float> a, Vector512<float> b, Vector512<float> c, Vector512<float> d)
    {
        var a2 = a.GetLower() + a.GetUpper();
        var b2 = b.GetLower() + b.GetUpper();
        var c2 = c.GetLower() + c.GetUpper();
        var d2 = d.GetLower() + d.GetUpper();
        var a4 = a2.GetLower() + a2.GetUpper();
        var b4 = b2.GetLower() + b2.GetUpper();
        var c4 = c2.GetLower() + c2.GetUpper();
        var d4 = d2.GetLower() + d2.GetUpper();
        // [a0+a1, a2+a3, b0+b1, b2+b3] and the same for c, d; then pairwise once more.
        var ab = Sse3.HorizontalAdd(a4, b4);
        var cd = Sse3.HorizontalAdd(c4, d4);
        return Sse3.HorizontalAdd(ab, cd);
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
