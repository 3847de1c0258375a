using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

// Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2016)
// for the layers where channels are many on both sides (an image flow's 32 -> 32 conditioner convolutions, their input
// gradients, which are the transposed forward, and their weight gradients, the algorithm run backwards). A 2x2 block of outputs is Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A over the 4x4 input patch d under it: 16
// products per input/output channel pair where the direct form takes 36, so the 16 element-wise products become 16
// GEMMs (tiles x in) · (in x out) on the same register tiles, and the transforms are additions only (B and A hold 0 and
// ±1, G also ±1/2, all exact in binary), so each output carries a few more roundings than the direct sum, not a
// different magnitude of error.
public static unsafe partial class DirectConvolution3x3
{
    /// <summary>Channels from which the GEMMs of F(2x2, 3x3) pay for their transforms (k = in per GEMM).</summary>
    private const int WinogradMinimumChannels = 16;

    /// <summary>Tiles per chunk at most: V and M (16 x tiles x channels each) stay in L2 between the transforms and the GEMMs.</summary>
    private const int WinogradChunkTiles = 64;

    [ThreadStatic] private static float[]? t_winogradU;
    [ThreadStatic] private static float[]? t_winogradV;
    [ThreadStatic] private static float[]? t_winogradM;
    [ThreadStatic] private static float[]? t_zeroRow;

    /// <summary>
    /// True where <see cref="Forward"/> computes by F(2x2, 3x3): even image sides (whole 2x2 output blocks), channels on both
    /// sides a multiple of 8 (the transforms run on 8-float vectors) and at least <see cref="WinogradMinimumChannels"/>.
    /// </summary>
    internal static bool UsesWinograd(int height, int width, int inChannels, int outChannels) =>
        height % 2 == 0 && width % 2 == 0 && inChannels % 8 == 0 && outChannels % 8 == 0
        && inChannels >= WinogradMinimumChannels && outChannels >= WinogradMinimumChannels;

    /// <summary>
    /// <see cref="Forward"/> by F(2x2, 3x3): the batch's 2x2 output blocks in chunks of whole block rows (of all images in
    /// turn); per chunk, the input transform into V[16][tiles][in], 16 GEMMs into M[16][tiles][out'] with the weight
    /// transform U[16][in][out'] (computed once per call), and the output transform into y, followed by the epilogue on the
    /// chunk's output rows while they are in cache.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RunWinograd<TKernel>(float* x, int images, int height, int width, int inChannels,
        float* weight, int outChannels, bool transposedWeight, float* y, ConvolutionEpilogue epilogue) where TKernel : struct, IGemmMicroKernel
    {
        int rows = TKernel.Rows, narrow = TKernel.Width / 2;
        int padded = (outChannels + narrow - 1) / narrow * narrow;
        int tilesW = width / 2, tilesH = height / 2;
        int chunkRows = WinogradChunkRows(tilesW, rows);
        int chunkTiles = chunkRows * tilesW, chunkCapacity = (chunkTiles + rows - 1) / rows * rows;

        float* packed = Scratch(ref t_weights, 9L * inChannels * padded);
        PackWeights(weight, inChannels, outChannels, padded, transposedWeight, packed);
        float* u = Scratch(ref t_winogradU, 16L * inChannels * padded);
        TransformWeights(packed, inChannels, padded, u);
        float* v = Scratch(ref t_winogradV, 16L * chunkCapacity * inChannels);
        float* m = Scratch(ref t_winogradM, 16L * chunkCapacity * padded);
        float* zero = Scratch(ref t_zeroRow, inChannels);
        new Span<float>(zero, inChannels).Clear();
        float** patch = stackalloc float*[16];
        // On the AVX-512 path the transforms run on 16-float vectors where the channels allow (half the instructions).
        bool wideInput = typeof(TKernel) == typeof(Avx512MicroKernel) && inChannels % 16 == 0;
        bool wideOutput = typeof(TKernel) == typeof(Avx512MicroKernel) && outChannels % 16 == 0;

        long blockRows = (long)images * tilesH;
        for (long first = 0; first < blockRows; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, blockRows - first), tiles = count * tilesW;
            // Input transform: V[ξ][t][c] = (Bᵀ d_t B)[ξ] for tile t's 4x4 patch d_t (zero outside the image).
            for (int r = 0; r < count; r++)
            {
                long blockRow = first + r;
                int b = (int)(blockRow / tilesH), ty = (int)(blockRow % tilesH);
                for (int tx = 0; tx < tilesW; tx++)
                    TransformInputBlock(x, b, ty, tx, height, width, inChannels, zero, patch, wideInput,
                        v + (long)(r * tilesW + tx) * inChannels, (long)chunkCapacity * inChannels);
            }
            MultiplyTransformed<TKernel>(16, v, u, m, tiles, chunkCapacity, inChannels, padded);
            // Output transform: y's 2x2 block of tile t = Aᵀ M_t A, then the epilogue on the chunk's (whole) output rows.
            for (int r = 0; r < count; r++)
            {
                long blockRow = first + r;
                int b = (int)(blockRow / tilesH), ty = (int)(blockRow % tilesH);
                float* top = y + (((long)b * height + 2 * ty) * width) * outChannels;
                for (int tx = 0; tx < tilesW; tx++)
                {
                    float* out0 = top + (long)(2 * tx) * outChannels;
                    if (wideOutput)
                        OutputTransform512(m + (long)(r * tilesW + tx) * padded, (long)chunkCapacity * padded, outChannels, out0, (long)width * outChannels);
                    else
                        OutputTransform(m + (long)(r * tilesW + tx) * padded, (long)chunkCapacity * padded, outChannels, out0, (long)width * outChannels);
                }
                epilogue.Apply(top, 2 * width);
            }
        }
    }

    /// <summary>
    /// V[ξ] (planes <paramref name="stride"/> floats apart) = (Bᵀ d B)[ξ] for the 4x4 input patch d under image
    /// <paramref name="b"/>'s output block (<paramref name="ty"/>, <paramref name="tx"/>), <paramref name="zero"/> standing
    /// for pixels outside the image; on 16-float vectors when <paramref name="wide"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void TransformInputBlock(float* x, int b, int ty, int tx, int height, int width, int channels, float* zero,
        float** patch, bool wide, float* v, long stride)
    {
        GatherPatch(x, b, 2 * ty - 1, 2 * tx - 1, 4, height, width, channels, zero, patch);
        if (wide)
            InputTransform512(patch, channels, v, stride);
        else
            InputTransform(patch, channels, v, stride);
    }

    /// <summary>
    /// patch[i·side + j] = the address of image <paramref name="b"/>'s pixel (top + i, left + j), or <paramref name="zero"/>
    /// (a row of zeros) where that pixel is outside the image: the input patch under one Winograd output block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GatherPatch(float* x, int b, int top, int left, int side, int height, int width, int channels, float* zero, float** patch)
    {
        for (int i = 0; i < side; i++)
        {
            int h = top + i;
            for (int j = 0; j < side; j++)
            {
                int w = left + j;
                patch[i * side + j] = h >= 0 && h < height && w >= 0 && w < width
                    ? x + (((long)b * height + h) * width + w) * channels
                    : zero;
            }
        }
    }

    /// <summary>
    /// M[ξ] = V[ξ] · U[ξ] for each of the <paramref name="points"/> planes ξ (16 for F(2x2, 3x3), 36 for F(4x4, 3x3)): the
    /// chunk's tile rows through the register tiles, k = in. Rows past the chunk's tiles (up to whole register tiles) read
    /// stale V and write M rows nobody reads.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void MultiplyTransformed<TKernel>(int points, float* v, float* u, float* m, int tiles, int chunkCapacity, int inChannels, int padded)
        where TKernel : struct, IGemmMicroKernel
    {
        for (int xi = 0; xi < points; xi++)
        {
            float* vXi = v + (long)xi * chunkCapacity * inChannels;
            float* uXi = u + (long)xi * inChannels * padded;
            float* mXi = m + (long)xi * chunkCapacity * padded;
            for (int t0 = 0; t0 < tiles; t0 += TKernel.Rows)
                RowTileStrips<TKernel>(vXi + (long)t0 * inChannels, inChannels, 1, uXi, padded, inChannels, mXi + (long)t0 * padded, beta: 0f);
        }
    }

    /// <summary>
    /// One register tile's rows of C (row-major, <paramref name="padded"/> columns, as B) = A · B + beta · C across all of
    /// B's columns: wide strips, and a narrow one where half a strip is left (padded is a multiple of the narrow width).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void RowTileStrips<TKernel>(float* a, nint rowStride, nint colStride, float* b, int padded, int kc, float* c, float beta)
        where TKernel : struct, IGemmMicroKernel
    {
        int wide = TKernel.Width;
        for (int j0 = 0; j0 < padded; )
        {
            if (padded - j0 >= wide)
            {
                TKernel.Wide(a, rowStride, colStride, b + j0, padded, kc, c + j0, padded, 1f, beta);
                j0 += wide;
            }
            else
            {
                TKernel.Narrow(a, rowStride, colStride, b + j0, padded, kc, c + j0, padded, 1f, beta);
                j0 += wide / 2;
            }
        }
    }

    /// <summary>Block rows per chunk: as many as fit <paramref name="chunkTiles"/> tiles, preferring a count whose tiles fill whole register tiles.</summary>
    internal static int WinogradChunkRows(int tilesW, int kernelRows, int chunkTiles = WinogradChunkTiles)
    {
        int most = Math.Max(1, chunkTiles / tilesW);
        for (int n = most; n >= 1 && n * 2 >= most; n--)
            if (n * tilesW % kernelRows == 0)
                return n;
        return most;
    }

    /// <summary>
    /// U[ξ][i][o] = (G g Gᵀ)[ξ] for the 3x3 kernel g from input channel i to output o, G = [1 0 0; ½ ½ ½; ½ -½ ½; 0 0 1], from
    /// <see cref="PackWeights"/>'s layout ([tap][i][o], o padded with zeros, so U's padding columns are zero too), 8 outputs at a time.
    /// </summary>
    private static void TransformWeights(float* packed, int inChannels, int padded, float* u)
    {
        long tapStride = (long)inChannels * padded, xiStride = tapStride;
        var half = Vector256.Create(0.5f);
        for (int i = 0; i < inChannels; i++)
            for (int o = 0; o < padded; o += 8)
            {
                float* g = packed + (long)i * padded + o;
                // t = G g: 4 rows of the kernel's 3 columns.
                var g00 = Vector256.Load(g); var g01 = Vector256.Load(g + tapStride); var g02 = Vector256.Load(g + 2 * tapStride);
                var g10 = Vector256.Load(g + 3 * tapStride); var g11 = Vector256.Load(g + 4 * tapStride); var g12 = Vector256.Load(g + 5 * tapStride);
                var g20 = Vector256.Load(g + 6 * tapStride); var g21 = Vector256.Load(g + 7 * tapStride); var g22 = Vector256.Load(g + 8 * tapStride);
                var t10 = half * (g00 + g10 + g20); var t11 = half * (g01 + g11 + g21); var t12 = half * (g02 + g12 + g22);
                var t20 = half * (g00 - g10 + g20); var t21 = half * (g01 - g11 + g21); var t22 = half * (g02 - g12 + g22);
                // U = t Gᵀ, row by row.
                float* row = u + (long)i * padded + o;
                StoreWeightRow(g00, g01, g02, half, row, xiStride);
                StoreWeightRow(t10, t11, t12, half, row + 4 * xiStride, xiStride);
                StoreWeightRow(t20, t21, t22, half, row + 8 * xiStride, xiStride);
                StoreWeightRow(g20, g21, g22, half, row + 12 * xiStride, xiStride);
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreWeightRow(Vector256<float> t0, Vector256<float> t1, Vector256<float> t2, Vector256<float> half, float* u, long stride)
    {
        t0.Store(u);
        (half * (t0 + t1 + t2)).Store(u + stride);
        (half * (t0 - t1 + t2)).Store(u + 2 * stride);
        t2.Store(u + 3 * stride);
    }

    /// <summary>V[ξ] (ξ = 4·row + column, <paramref name="stride"/> floats apart) = (Bᵀ d B)[ξ], Bᵀ = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], 8 channels at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTransform(float** d, int channels, float* v, long stride)
    {
        for (int c = 0; c < channels; c += 8)
        {
            // Rows: t_r = (Bᵀ d)[r] for each of the 4 columns.
            var t00 = Vector256.Load(d[0] + c) - Vector256.Load(d[8] + c);
            var t01 = Vector256.Load(d[1] + c) - Vector256.Load(d[9] + c);
            var t02 = Vector256.Load(d[2] + c) - Vector256.Load(d[10] + c);
            var t03 = Vector256.Load(d[3] + c) - Vector256.Load(d[11] + c);
            var d40 = Vector256.Load(d[4] + c);
            var d41 = Vector256.Load(d[5] + c);
            var d42 = Vector256.Load(d[6] + c);
            var d43 = Vector256.Load(d[7] + c);
            var d80 = Vector256.Load(d[8] + c);
            var d81 = Vector256.Load(d[9] + c);
            var d82 = Vector256.Load(d[10] + c);
            var d83 = Vector256.Load(d[11] + c);
            var t10 = d40 + d80;
            var t11 = d41 + d81;
            var t12 = d42 + d82;
            var t13 = d43 + d83;
            var t20 = d80 - d40;
            var t21 = d81 - d41;
            var t22 = d82 - d42;
            var t23 = d83 - d43;
            var t30 = d40 - Vector256.Load(d[12] + c);
            var t31 = d41 - Vector256.Load(d[13] + c);
            var t32 = d42 - Vector256.Load(d[14] + c);
            var t33 = d43 - Vector256.Load(d[15] + c);
            // Columns: V[r][·] = t_r B.
            StoreRow(t00, t01, t02, t03, v + c, stride);
            StoreRow(t10, t11, t12, t13, v + 4 * stride + c, stride);
            StoreRow(t20, t21, t22, t23, v + 8 * stride + c, stride);
            StoreRow(t30, t31, t32, t33, v + 12 * stride + c, stride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow(Vector256<float> a0, Vector256<float> a1, Vector256<float> a2, Vector256<float> a3, float* v, long stride)
    {
        (a0 - a2).Store(v);
        (a1 + a2).Store(v + stride);
        (a2 - a1).Store(v + 2 * stride);
        (a1 - a3).Store(v + 3 * stride);
    }

    /// <summary>
    /// The 2x2 outputs Aᵀ M A (Aᵀ = [1 1 1 0; 0 1 -1 -1]) of one tile, M[ξ] <paramref name="stride"/> floats apart, written at
    /// <paramref name="y"/> (top left) and the next pixel, and <paramref name="rowFloats"/> further on for the lower row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTransform(float* m, long stride, int channels, float* y, long rowFloats)
    {
        for (int c = 0; c < channels; c += 8)
        {
            float* p = m + c;
            var m0 = Vector256.Load(p); var m1 = Vector256.Load(p + stride); var m2 = Vector256.Load(p + 2 * stride); var m3 = Vector256.Load(p + 3 * stride);
            var m4 = Vector256.Load(p + 4 * stride); var m5 = Vector256.Load(p + 5 * stride); var m6 = Vector256.Load(p + 6 * stride); var m7 = Vector256.Load(p + 7 * stride);
            var m8 = Vector256.Load(p + 8 * stride); var m9 = Vector256.Load(p + 9 * stride); var m10 = Vector256.Load(p + 10 * stride); var m11 = Vector256.Load(p + 11 * stride);
            var m12 = Vector256.Load(p + 12 * stride); var m13 = Vector256.Load(p + 13 * stride); var m14 = Vector256.Load(p + 14 * stride); var m15 = Vector256.Load(p + 15 * stride);
            // Rows: s0 = M0 + M1 + M2, s1 = M1 - M2 - M3 (per column).
            var s00 = m0 + m4 + m8; var s01 = m1 + m5 + m9; var s02 = m2 + m6 + m10; var s03 = m3 + m7 + m11;
            var s10 = m4 - m8 - m12; var s11 = m5 - m9 - m13; var s12 = m6 - m10 - m14; var s13 = m7 - m11 - m15;
            // Columns.
            (s00 + s01 + s02).Store(y + c);
            (s01 - s02 - s03).Store(y + channels + c);
            (s10 + s11 + s12).Store(y + rowFloats + c);
            (s11 - s12 - s13).Store(y + rowFloats + channels + c);
        }
    }

    /// <summary><see cref="InputTransform"/> on 16-float vectors (channels a multiple of 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void InputTransform512(float** d, int channels, float* v, long stride)
    {
        for (int c = 0; c < channels; c += 16)
        {
            var d40 = Vector512.Load(d[4] + c); var d41 = Vector512.Load(d[5] + c); var d42 = Vector512.Load(d[6] + c); var d43 = Vector512.Load(d[7] + c);
            var d80 = Vector512.Load(d[8] + c); var d81 = Vector512.Load(d[9] + c); var d82 = Vector512.Load(d[10] + c); var d83 = Vector512.Load(d[11] + c);
            StoreRow512(Vector512.Load(d[0] + c) - d80, Vector512.Load(d[1] + c) - d81, Vector512.Load(d[2] + c) - d82, Vector512.Load(d[3] + c) - d83, v + c, stride);
            StoreRow512(d40 + d80, d41 + d81, d42 + d82, d43 + d83, v + 4 * stride + c, stride);
            StoreRow512(d80 - d40, d81 - d41, d82 - d42, d83 - d43, v + 8 * stride + c, stride);
            StoreRow512(d40 - Vector512.Load(d[12] + c), d41 - Vector512.Load(d[13] + c), d42 - Vector512.Load(d[14] + c), d43 - Vector512.Load(d[15] + c),
                v + 12 * stride + c, stride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreRow512(Vector512<float> a0, Vector512<float> a1, Vector512<float> a2, Vector512<float> a3, float* v, long stride)
    {
        (a0 - a2).Store(v);
        (a1 + a2).Store(v + stride);
        (a2 - a1).Store(v + 2 * stride);
        (a1 - a3).Store(v + 3 * stride);
    }

    /// <summary><see cref="OutputTransform"/> on 16-float vectors (channels a multiple of 16).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputTransform512(float* m, long stride, int channels, float* y, long rowFloats)
    {
        for (int c = 0; c < channels; c += 16)
        {
            float* p = m + c;
            var m0 = Vector512.Load(p); var m1 = Vector512.Load(p + stride); var m2 = Vector512.Load(p + 2 * stride); var m3 = Vector512.Load(p + 3 * stride);
            var m4 = Vector512.Load(p + 4 * stride); var m5 = Vector512.Load(p + 5 * stride); var m6 = Vector512.Load(p + 6 * stride); var m7 = Vector512.Load(p + 7 * stride);
            var m8 = Vector512.Load(p + 8 * stride); var m9 = Vector512.Load(p + 9 * stride); var m10 = Vector512.Load(p + 10 * stride); var m11 = Vector512.Load(p + 11 * stride);
            var m12 = Vector512.Load(p + 12 * stride); var m13 = Vector512.Load(p + 13 * stride); var m14 = Vector512.Load(p + 14 * stride); var m15 = Vector512.Load(p + 15 * stride);
            var s00 = m0 + m4 + m8; var s01 = m1 + m5 + m9; var s02 = m2 + m6 + m10; var s03 = m3 + m7 + m11;
            var s10 = m4 - m8 - m12; var s11 = m5 - m9 - m13; var s12 = m6 - m10 - m14; var s13 = m7 - m11 - m15;
            (s00 + s01 + s02).Store(y + c);
            (s01 - s02 - s03).Store(y + channels + c);
            (s10 + s11 + s12).Store(y + rowFloats + c);
            (s11 - s12 - s13).Store(y + rowFloats + channels + c);
        }
    }
}
