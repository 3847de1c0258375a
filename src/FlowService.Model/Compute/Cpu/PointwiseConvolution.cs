using System.Runtime.CompilerServices;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// A 1x1 convolution on pixel rows, y = f(x · Wᵀ + bias + residual), with the epilogue fused: the GEMM's register tiles
/// (<see cref="Avx512MicroKernel"/> 8 x 32, <see cref="Avx2MicroKernel"/> 6 x 16) run over a chunk of pixels, and the
/// residual, bias and activation are applied to the chunk's outputs while they are in L1.
/// </summary>
/// <remarks>
/// Why: an image conditioner's residual block ends in a 1x1 convolution with a skip, h' = f(h + conv1x1(a)). As a GEMM
/// followed by an addition and a bias-and-activation pass it reads and writes the whole (B·H·W) x C output three times
/// (6.4 MB per 64 images of 28x28 at 32 channels, past L2); here once. The weight is repacked per call (in x out floats,
/// small) as [in][out padded to the tile's narrow width].
/// </remarks>
public static unsafe class PointwiseConvolution
{
    [ThreadStatic] private static float[]? t_weights;

    /// <summary>True when <paramref name="path"/> is a vector path this processor runs and there are pixels for one register tile.</summary>
    public static bool Supports(int pixels, ManagedGemmPath path = ManagedGemmPath.Best) => ManagedGemm.FillsRegisterTile(pixels, path);

    /// <summary>
    /// y[p, o] = f(Σ_i W[o, i] · x[p, i] + bias[o] + residual[p, o]) for <paramref name="pixels"/> rows, overwriting y; W is
    /// [out, in]. An empty <paramref name="bias"/> leaves out the bias and the activation, an empty
    /// <paramref name="residual"/> the residual.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, int pixels, int inChannels, ReadOnlySpan<float> weight, int outChannels,
        Span<float> y, ReadOnlySpan<float> bias, FusedActivation activation, ReadOnlySpan<float> residual, ManagedGemmPath path = ManagedGemmPath.Best)
    {
        path = path == ManagedGemmPath.Best ? ManagedGemm.BestPath : path;
        if (!Supports(pixels, path))
            throw new PlatformNotSupportedException($"No pointwise convolution on the {path} path for {pixels} pixels.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inChannels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outChannels);
        long outputs = (long)pixels * outChannels;
        if (x.Length < (long)pixels * inChannels || y.Length < outputs || weight.Length < (long)inChannels * outChannels)
            throw new ArgumentException($"Buffers too small for {pixels} pixels, {inChannels} -> {outChannels} channels.");
        if (!bias.IsEmpty && bias.Length != outChannels)
            throw new ArgumentException($"The bias has {bias.Length} values, not one per output ({outChannels}).", nameof(bias));
        if (!residual.IsEmpty && residual.Length < outputs)
            throw new ArgumentException($"The residual holds {residual.Length} floats, the output {outputs}.", nameof(residual));
        fixed (float* px = x, pw = weight, py = y, pb = bias, pr = residual)
        {
            var epilogue = new ConvolutionEpilogue(py, outChannels, bias.IsEmpty ? null : pb, activation, residual.IsEmpty ? null : pr);
            if (path == ManagedGemmPath.Vector512)
                Run<Avx512MicroKernel>(px, pixels, inChannels, pw, outChannels, py, epilogue);
            else
                Run<Avx2MicroKernel>(px, pixels, inChannels, pw, outChannels, py, epilogue);
        }
    }

    /// <summary>Pixels per chunk, in register tiles: the chunk's outputs and residual (2 x 64 x 32 floats at most here) stay in L1.</summary>
    private const int ChunkTiles = 8;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Run<TKernel>(float* x, int pixels, int inChannels, float* weight, int outChannels, float* y,
        ConvolutionEpilogue epilogue) where TKernel : struct, IGemmMicroKernel
    {
        int rows = TKernel.Rows, wide = TKernel.Width, narrow = wide / 2;
        int padded = (outChannels + narrow - 1) / narrow * narrow;
        float* packed = AlignedScratch.Get(ref t_weights, (long)inChannels * padded);
        PackWeights(weight, inChannels, outChannels, padded, packed);
        float* tile = stackalloc float[8 * 32];
        int chunk = ChunkTiles * rows;
        for (int c0 = 0; c0 < pixels; )
        {
            // Every chunk holds at least one whole tile: a tail shorter than a tile joins the chunk before it.
            int c1 = Math.Min(c0 + chunk, pixels);
            if (pixels - c1 < rows)
                c1 = pixels;
            for (int start = c0; ; start += rows)
            {
                // The last tile ends at the chunk's end, overlapping the one before (beta = 0: recomputed, not accumulated).
                int p0 = Math.Min(start, c1 - rows);
                float* a = x + (long)p0 * inChannels;
                float* yRow = y + (long)p0 * outChannels;
                for (int j0 = 0; j0 < padded; )
                {
                    int strip = padded - j0 >= wide ? wide : narrow;
                    bool direct = j0 + strip <= outChannels;
                    float* c = direct ? yRow + j0 : tile;
                    nint ldc = direct ? outChannels : wide;
                    if (strip == wide)
                        TKernel.Wide(a, inChannels, 1, packed + j0, padded, inChannels, c, ldc, 1f, 0f);
                    else
                        TKernel.Narrow(a, inChannels, 1, packed + j0, padded, inChannels, c, ldc, 1f, 0f);
                    if (!direct)
                    {
                        int keep = outChannels - j0;
                        for (int r = 0; r < rows; r++)
                            new ReadOnlySpan<float>(tile + r * wide, keep).CopyTo(new Span<float>(yRow + (long)r * outChannels + j0, keep));
                    }
                    j0 += strip;
                }
                if (p0 == c1 - rows)
                    break;
            }
            epilogue.Apply(y + (long)c0 * outChannels, c1 - c0);
            c0 = c1;
        }
    }

    /// <summary>dst[i·padded + o] = the weight from input channel i to output o; zero for o ≥ out.</summary>
    private static void PackWeights(float* w, int inChannels, int outChannels, int padded, float* dst)
    {
        for (int i = 0; i < inChannels; i++)
        {
            float* row = dst + (long)i * padded;
            for (int o = 0; o < outChannels; o++)
                row[o] = w[(long)o * inChannels + i];
            new Span<float>(row + outChannels, padded - outChannels).Clear();
        }
    }

}
