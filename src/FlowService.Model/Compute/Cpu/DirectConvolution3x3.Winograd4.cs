using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

// Winograd's F(4x4, 3x3) (Lavin and Gray, 2016, with the interpolation points 0, ±1, ±2) for the forward of the layers
// that F(2x2, 3x3) runs (DirectConvolution3x3.Winograd.cs) where both image sides are a multiple of 4 (a 28x28 image
// flow's 32 -> 32 conditioner convolutions and their input gradients): a 4x4 block of outputs is Aᵀ [U ⊙ V] A over the
// 6x6 input patch under it, 36 products per channel pair for 16 outputs (2.25 per output against F(2x2, 3x3)'s 4 and
// the direct form's 9), so the GEMMs, which are most of the time, shrink 1.78x. The transforms cost about what
// F(2x2, 3x3)'s do per output. G holds 1/6, 1/12 and 1/24, which are not exact in binary, and the transforms scale by
// up to 8, so an output carries a relative rounding error of a few 1e-7 more than F(2x2, 3x3)'s; the weight
// gradient stays F(2x2, 3x3) (DirectConvolution3x3.WinogradGradient.cs).
public static unsafe partial class DirectConvolution3x3
{
    /// <summary>Tiles per chunk at most: V and M (36 x tiles x channels each, 295 KB each at 32 channels) stay in L2.</summary>
    private const int Winograd4ChunkTiles = 64;

    /// <summary>
    /// True where <see cref="Forward"/> computes by F(4x4, 3x3): where F(2x2, 3x3) would (<see cref="UsesWinograd"/>) and
    /// both sides are whole 4x4 output blocks.
    /// </summary>
    internal static bool UsesWinograd4(int height, int width, int inChannels, int outChannels) =>
        UsesWinograd(height, width, inChannels, outChannels) && height % 4 == 0 && width % 4 == 0;

    /// <summary>
    /// <see cref="Forward"/> by F(4x4, 3x3), as <see cref="RunWinograd{TKernel}"/> runs F(2x2, 3x3): per chunk of whole
    /// block rows, the input transform into V[36][tiles][in], 36 GEMMs into M[36][tiles][out'] with U[36][in][out'] (once
    /// per call), the output transform into y and the epilogue on the chunk's output rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunWinograd4<TKernel>(float* x, int images, int height, int width, int inChannels,
        float* weight, int outChannels, bool transposedWeight, float* y, ConvolutionEpilogue epilogue) where TKernel : struct, IGemmMicroKernel
    {
        int rows = TKernel.Rows, narrow = TKernel.Width / 2;
        int padded = (outChannels + narrow - 1) / narrow * narrow;
        int tilesW = width / 4, tilesH = height / 4;
        int chunkRows = WinogradChunkRows(tilesW, rows, Winograd4ChunkTiles);
        int chunkTiles = chunkRows * tilesW, chunkCapacity = (chunkTiles + rows - 1) / rows * rows;

        float* packed = Scratch(ref t_weights, 9L * inChannels * padded);
        PackWeights(weight, inChannels, outChannels, padded, transposedWeight, packed);
        float* u = Scratch(ref t_winogradU, 36L * inChannels * padded);
        TransformWeights4(packed, inChannels, padded, u);
        float* v = Scratch(ref t_winogradV, 36L * chunkCapacity * inChannels);
        float* m = Scratch(ref t_winogradM, 36L * chunkCapacity * padded);
        float* zero = Scratch(ref t_zeroRow, inChannels);
        new Span<float>(zero, inChannels).Clear();
        float** patch = stackalloc float*[36];
        // The transforms' scratch, 64-byte aligned: a 512-bit store that straddles two cache lines costs twice, and the stack
        // gives no such alignment (on an unaligned stack this layer ran 1.4x slower, in one process of two).
        byte* scratch = stackalloc byte[36 * 64 + 63];
        var wideWork = (Vector512<float>*)(((nint)scratch + 63) & ~(nint)63);
        var work = (Vector256<float>*)wideWork;
        // On the AVX-512 path the transforms run on 16-float vectors where the channels allow (half the instructions).
        bool wideInput = typeof(TKernel) == typeof(Avx512MicroKernel) && inChannels % 16 == 0;
        bool wideOutput = typeof(TKernel) == typeof(Avx512MicroKernel) && outChannels % 16 == 0;

        long blockRows = (long)images * tilesH;
        for (long first = 0; first < blockRows; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, blockRows - first), tiles = count * tilesW;
            for (int r = 0; r < count; r++)
            {
                long blockRow = first + r;
                int b = (int)(blockRow / tilesH), ty = (int)(blockRow % tilesH);
                for (int tx = 0; tx < tilesW; tx++)
                {
                    GatherPatch(x, b, 4 * ty - 1, 4 * tx - 1, 6, height, width, inChannels, zero, patch);
                    if (wideInput)
                        InputTransform4Wide(patch, inChannels, v + (long)(r * tilesW + tx) * inChannels, (long)chunkCapacity * inChannels, wideWork);
                    else
                        InputTransform4(patch, inChannels, v + (long)(r * tilesW + tx) * inChannels, (long)chunkCapacity * inChannels, work);
                }
            }
            MultiplyTransformed<TKernel>(36, v, u, m, tiles, chunkCapacity, inChannels, padded);
            for (int r = 0; r < count; r++)
            {
                long blockRow = first + r;
                int b = (int)(blockRow / tilesH), ty = (int)(blockRow % tilesH);
                float* top = y + (((long)b * height + 4 * ty) * width) * outChannels;
                for (int tx = 0; tx < tilesW; tx++)
                {
                    float* tile = m + (long)(r * tilesW + tx) * padded, out0 = top + (long)(4 * tx) * outChannels;
                    if (wideOutput)
                        OutputTransform4Wide(tile, (long)chunkCapacity * padded, outChannels, out0, (long)width * outChannels, wideWork);
                    else
                        OutputTransform4(tile, (long)chunkCapacity * padded, outChannels, out0, (long)width * outChannels, work);
                }
                epilogue.Apply(top, 4 * width);
            }
        }
    }

    /// <summary>
    /// U[ξ][i][o] = (G g Gᵀ)[ξ] (ξ = 6·row + column) for the 3x3 kernel g from input i to output o, from
    /// <see cref="PackWeights"/>'s layout, 8 outputs at a time; G's rows are [¼ 0 0], -⅙[1 1 1], -⅙[1 -1 1],
    /// [1/24 1/12 ⅙], [1/24 -1/12 ⅙], [0 0 1].
    /// </summary>
    private static void TransformWeights4(float* packed, int inChannels, int padded, float* u)
    {
        long tapStride = (long)inChannels * padded, xiStride = tapStride;
        var t = stackalloc Vector256<float>[18];
        for (int i = 0; i < inChannels; i++)
            for (int o = 0; o < padded; o += 8)
            {
                float* g = packed + (long)i * padded + o;
                // t = G g: 6 rows of the kernel's 3 columns.
                for (int column = 0; column < 3; column++)
                {
                    var (t0, t1, t2, t3, t4, t5) = KernelTransform(
                        Vector256.Load(g + column * tapStride), Vector256.Load(g + (3 + column) * tapStride), Vector256.Load(g + (6 + column) * tapStride));
                    t[column] = t0; t[3 + column] = t1; t[6 + column] = t2; t[9 + column] = t3; t[12 + column] = t4; t[15 + column] = t5;
                }
                // U = t Gᵀ, row by row.
                float* row = u + (long)i * padded + o;
                for (int r = 0; r < 6; r++)
                {
                    var (u0, u1, u2, u3, u4, u5) = KernelTransform(t[3 * r], t[3 * r + 1], t[3 * r + 2]);
                    float* target = row + 6 * r * xiStride;
                    u0.Store(target);
                    u1.Store(target + xiStride);
                    u2.Store(target + 2 * xiStride);
                    u3.Store(target + 3 * xiStride);
                    u4.Store(target + 4 * xiStride);
                    u5.Store(target + 5 * xiStride);
                }
            }
    }

    /// <summary>G [g0 g1 g2]ᵀ, the 6 values of F(4x4, 3x3)'s kernel transform of one kernel row or column.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) KernelTransform(
        Vector256<float> g0, Vector256<float> g1, Vector256<float> g2)
    {
        var sixth = Vector256.Create(1f / 6f);
        var outer = g0 + g2;
        var even = (outer + g1) * -sixth;
        var odd = (outer - g1) * -sixth;
        // [1/24 ±1/12 1/6] = (g0/4 ± g1/2 + g2) / 6.
        var quarterOuter = Vector256.FusedMultiplyAdd(g0, Vector256.Create(0.25f), g2);
        var halfMiddle = g1 * Vector256.Create(0.5f);
        return (g0 * Vector256.Create(0.25f), even, odd, (quarterOuter + halfMiddle) * sixth, (quarterOuter - halfMiddle) * sixth, g2);
    }

    /// <summary>
    /// V[ξ] (ξ = 6·row + column, <paramref name="stride"/> floats apart) = (Bᵀ d B)[ξ] for the 6x6 patch d, 8 channels at a
    /// time: Bᵀ along the columns into <paramref name="work"/>, then along its rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTransform4(float** d, int channels, float* v, long stride, Vector256<float>* work)
    {
        for (int c = 0; c < channels; c += 8)
        {
            for (int j = 0; j < 6; j++)
            {
                var (r0, r1, r2, r3, r4, r5) = DataTransform(Vector256.Load(d[j] + c), Vector256.Load(d[6 + j] + c), Vector256.Load(d[12 + j] + c),
                    Vector256.Load(d[18 + j] + c), Vector256.Load(d[24 + j] + c), Vector256.Load(d[30 + j] + c));
                work[j] = r0; work[6 + j] = r1; work[12 + j] = r2; work[18 + j] = r3; work[24 + j] = r4; work[30 + j] = r5;
            }
            for (int i = 0; i < 6; i++)
            {
                var row = work + 6 * i;
                var (r0, r1, r2, r3, r4, r5) = DataTransform(row[0], row[1], row[2], row[3], row[4], row[5]);
                float* target = v + 6 * i * stride + c;
                r0.Store(target);
                r1.Store(target + stride);
                r2.Store(target + 2 * stride);
                r3.Store(target + 3 * stride);
                r4.Store(target + 4 * stride);
                r5.Store(target + 5 * stride);
            }
        }
    }

    /// <summary>
    /// Bᵀ [d0 … d5]ᵀ with Bᵀ's rows [4 0 -5 0 1 0], [0 -4 -4 1 1 0], [0 4 -4 -1 1 0], [0 -2 -1 2 1 0], [0 2 -1 -2 1 0],
    /// [0 4 0 -5 0 1].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) DataTransform(
        Vector256<float> d0, Vector256<float> d1, Vector256<float> d2, Vector256<float> d3, Vector256<float> d4, Vector256<float> d5)
    {
        var four = Vector256.Create(4f);
        var two = Vector256.Create(2f);
        var d4MinusD2 = d4 - d2;
        return (
            Vector256.FusedMultiplyAdd(four, d0 - d2, d4MinusD2),
            Vector256.FusedMultiplyAdd(-four, d1 + d2, d3 + d4),
            Vector256.FusedMultiplyAdd(four, d1 - d2, d4 - d3),
            Vector256.FusedMultiplyAdd(two, d3 - d1, d4MinusD2),
            Vector256.FusedMultiplyAdd(two, d1 - d3, d4MinusD2),
            Vector256.FusedMultiplyAdd(four, d1 - d3, d5 - d3));
    }

    /// <summary>
    /// The 4x4 outputs Aᵀ M A of one tile (M[ξ] <paramref name="stride"/> floats apart) at <paramref name="y"/> (top left),
    /// rows <paramref name="rowFloats"/> apart: Aᵀ along M's columns into <paramref name="work"/>, then along its rows.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTransform4(float* m, long stride, int channels, float* y, long rowFloats, Vector256<float>* work)
    {
        for (int c = 0; c < channels; c += 8)
        {
            float* p = m + c;
            for (int j = 0; j < 6; j++)
            {
                var (s0, s1, s2, s3) = OutputRowTransform(Vector256.Load(p + j * stride), Vector256.Load(p + (6 + j) * stride),
                    Vector256.Load(p + (12 + j) * stride), Vector256.Load(p + (18 + j) * stride), Vector256.Load(p + (24 + j) * stride),
                    Vector256.Load(p + (30 + j) * stride));
                work[j] = s0; work[6 + j] = s1; work[12 + j] = s2; work[18 + j] = s3;
            }
            for (int r = 0; r < 4; r++)
            {
                var row = work + 6 * r;
                var (o0, o1, o2, o3) = OutputRowTransform(row[0], row[1], row[2], row[3], row[4], row[5]);
                float* target = y + r * rowFloats + c;
                o0.Store(target);
                o1.Store(target + channels);
                o2.Store(target + 2 * channels);
                o3.Store(target + 3 * channels);
            }
        }
    }

    /// <summary>Aᵀ [m0 … m5]ᵀ with Aᵀ's rows [1 1 1 1 1 0], [0 1 -1 2 -2 0], [0 1 1 4 4 0], [0 1 -1 8 -8 1].</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float>, Vector256<float>, Vector256<float>, Vector256<float>) OutputRowTransform(
        Vector256<float> m0, Vector256<float> m1, Vector256<float> m2, Vector256<float> m3, Vector256<float> m4, Vector256<float> m5)
    {
        var sum12 = m1 + m2;
        var difference12 = m1 - m2;
        var sum34 = m3 + m4;
        var difference34 = m3 - m4;
        return (
            m0 + sum12 + sum34,
            Vector256.FusedMultiplyAdd(Vector256.Create(2f), difference34, difference12),
            Vector256.FusedMultiplyAdd(Vector256.Create(4f), sum34, sum12),
            Vector256.FusedMultiplyAdd(Vector256.Create(8f), difference34, difference12) + m5);
    }
}
