using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

// The weight gradient of the F(2x2, 3x3) layers (DirectConvolution3x3.Winograd.cs): the forward is
// y_t = Aᵀ [U ⊙ V_t] A with U = G g Gᵀ, so dL/dg = Gᵀ [ Σ_t (A dY_t Aᵀ) ⊙ V_t ] G, where the sum over the blocks t is, per
// ξ, a GEMM with k = blocks: long GEMMs where the forward's are short (k = in). 2.25x fewer multiply-adds than the
// direct form's GEMMs over the padded grid, and no padded copies of x and dy.
public static unsafe partial class DirectConvolution3x3
{
    /// <summary>Tiles per chunk of the weight gradient: its GEMMs run over the tiles (k), so a chunk is longer than the forward's.</summary>
    private const int WinogradGradientChunkTiles = 128;

    [ThreadStatic] private static float[]? t_winogradDu;

    /// <summary>
    /// dW += the weight gradient of <see cref="RunWinograd{TKernel}"/> (not transposed; W and dW [out, 9·in]) by the same
    /// algorithm run backwards: dg = Gᵀ [ Σ_tiles (A dY_t Aᵀ) ⊙ (Bᵀ d_t B) ] G per channel pair. Per chunk of tiles, V (the
    /// forward's input transform) and dM = A dY Aᵀ (4x4 from each tile's 2x2 output gradient), then 16 GEMMs
    /// dU[ξ] (in x out) += V[ξ]ᵀ · dM[ξ] with k = the chunk's tiles, and at the end G's transposed transform into dW.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void WeightGradientWinograd<TKernel>(float* x, float* dy, int images, int height, int width, int inChannels, int outChannels,
        float* dWeight) where TKernel : struct, IGemmMicroKernel
    {
        int rows = TKernel.Rows, narrow = TKernel.Width / 2;
        int padded = (outChannels + narrow - 1) / narrow * narrow;
        int inPadded = (inChannels + rows - 1) / rows * rows;
        int tilesW = width / 2, tilesH = height / 2;
        int chunkRows = Math.Max(1, WinogradGradientChunkTiles / tilesW);
        int chunkCapacity = chunkRows * tilesW;
        float* v = Scratch(ref t_winogradV, 16L * chunkCapacity * inPadded);
        float* m = Scratch(ref t_winogradM, 16L * chunkCapacity * padded);
        float* du = Scratch(ref t_winogradDu, 16L * inPadded * padded);
        new Span<float>(du, checked(16 * inPadded * padded)).Clear();
        float* zero = Scratch(ref t_zeroRow, Math.Max(inChannels, outChannels));
        new Span<float>(zero, Math.Max(inChannels, outChannels)).Clear();
        float** patch = stackalloc float*[16];
        bool wideInput = typeof(TKernel) == typeof(Avx512MicroKernel) && inChannels % 16 == 0;
        if (inPadded != inChannels)
            new Span<float>(v, checked(16 * chunkCapacity * inPadded)).Clear();
        if (padded != outChannels)
            new Span<float>(m, checked(16 * chunkCapacity * padded)).Clear();

        long blockRows = (long)images * tilesH;
        for (long first = 0; first < blockRows; first += chunkRows)
        {
            int count = (int)Math.Min(chunkRows, blockRows - first), tiles = count * tilesW;
            for (int r = 0; r < count; r++)
            {
                long blockRow = first + r;
                int b = (int)(blockRow / tilesH), ty = (int)(blockRow % tilesH);
                float* dyTop = dy + (((long)b * height + 2 * ty) * width) * outChannels;
                for (int tx = 0; tx < tilesW; tx++)
                {
                    int t = r * tilesW + tx;
                    TransformInputBlock(x, b, ty, tx, height, width, inChannels, zero, patch, wideInput, v + (long)t * inPadded, (long)chunkCapacity * inPadded);
                    OutputGradientTransform(dyTop + (long)(2 * tx) * outChannels, (long)width * outChannels, outChannels,
                        m + (long)t * padded, (long)chunkCapacity * padded);
                }
            }
            // dU[ξ] += V[ξ]ᵀ · dM[ξ]: rows of dU are input channels (A = V[ξ] read transposed: row i, step p = tile),
            // k = this chunk's tiles.
            for (int xi = 0; xi < 16; xi++)
            {
                float* vXi = v + (long)xi * chunkCapacity * inPadded;
                float* mXi = m + (long)xi * chunkCapacity * padded;
                float* duXi = du + (long)xi * inPadded * padded;
                for (int i0 = 0; i0 < inPadded; i0 += rows)
                    RowTileStrips<TKernel>(vXi + i0, 1, inPadded, mXi, padded, tiles, duXi + (long)i0 * padded, beta: 1f);
            }
        }
        AddWeightGradient(du, inChannels, outChannels, inPadded, padded, dWeight);
    }

    /// <summary>dM = A dY Aᵀ (A = [1 0; 1 1; 1 -1; 0 -1]) of one tile's 2x2 output gradient, dM[ξ] <paramref name="stride"/> floats apart, 8 channels at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void OutputGradientTransform(float* dy, long rowFloats, int channels, float* m, long stride)
    {
        for (int c = 0; c < channels; c += 8)
        {
            var y00 = Vector256.Load(dy + c); var y01 = Vector256.Load(dy + channels + c);
            var y10 = Vector256.Load(dy + rowFloats + c); var y11 = Vector256.Load(dy + rowFloats + channels + c);
            // Rows: T = A dY (4 x 2).
            var t10 = y00 + y10; var t11 = y01 + y11;
            var t20 = y00 - y10; var t21 = y01 - y11;
            // Columns: dM[r] = T[r] Aᵀ = (T0, T0 + T1, T0 - T1, -T1).
            GradientRow(y00, y01, m + c, stride);
            GradientRow(t10, t11, m + 4 * stride + c, stride);
            GradientRow(t20, t21, m + 8 * stride + c, stride);
            GradientRow(-y10, -y11, m + 12 * stride + c, stride);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void GradientRow(Vector256<float> t0, Vector256<float> t1, float* m, long stride)
    {
        t0.Store(m);
        (t0 + t1).Store(m + stride);
        (t0 - t1).Store(m + 2 * stride);
        (-t1).Store(m + 3 * stride);
    }

    /// <summary>dW[o, tap·in + i] += (Gᵀ dU[·][i][o] G)[tap] (3x3 from 4x4) for every channel pair.</summary>
    private static void AddWeightGradient(float* du, int inChannels, int outChannels, int inPadded, int padded, float* dWeight)
    {
        long xiStride = (long)inPadded * padded;
        float* u = stackalloc float[16];
        float* s = stackalloc float[12];
        for (int i = 0; i < inChannels; i++)
            for (int o = 0; o < outChannels; o++)
            {
                for (int xi = 0; xi < 16; xi++)
                    u[xi] = du[xi * xiStride + (long)i * padded + o];
                // S = Gᵀ dU (3 x 4), then dg = S G (3 x 3).
                for (int c = 0; c < 4; c++)
                {
                    float u0 = u[c], u1 = u[4 + c], u2 = u[8 + c], u3 = u[12 + c];
                    s[c] = u0 + 0.5f * (u1 + u2);
                    s[4 + c] = 0.5f * (u1 - u2);
                    s[8 + c] = 0.5f * (u1 + u2) + u3;
                }
                float* row = dWeight + (long)o * 9 * inChannels + i;
                for (int r = 0; r < 3; r++)
                {
                    float s0 = s[r * 4], s1 = s[r * 4 + 1], s2 = s[r * 4 + 2], s3 = s[r * 4 + 3];
                    row[(r * 3) * inChannels] += s0 + 0.5f * (s1 + s2);
                    row[(r * 3 + 1) * inChannels] += 0.5f * (s1 - s2);
                    row[(r * 3 + 2) * inChannels] += 0.5f * (s1 + s2) + s3;
                }
            }
    }
}
