using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The blocked GEMM driver around one register-tile kernel: C = alpha · op(A) · op(B) + beta · C,
/// row-major, m, n, k &gt; 0, single-threaded.
/// </summary>
/// <remarks>
/// Loops: k in blocks of <see cref="BlockK"/> (beta applies to the first block, later blocks add), n in
/// blocks of <see cref="BlockN"/> (a k-block of B, at most 256 x 256 floats, stays in L2), then row
/// tiles of A, then column strips of B. op(A) = A is read in place through its row stride; a tile of
/// op(A) = Aᵀ is copied k-major first (cheap: one vector per k step), and so is the last, partial row tile. op(B) is read in place when it is
/// not transposed and n &lt;= 256 (measured here: packing then costs more than it saves); when
/// transposed or wider it is packed strip by strip into a contiguous buffer. Partial tiles are
/// computed into a zero-padded scratch tile and merged, so the kernels only see full tiles.
/// </remarks>
[SkipLocalsInit]    // the scratch tiles are fully written before they are read; zeroing 9 KB per call costs more than a small GEMM
internal static unsafe class BlockedGemm<TKernel> where TKernel : struct, IGemmMicroKernel
{
    private const int BlockK = 256;
    private const int BlockN = 256;
    private const int DirectBLimit = 256;
    private const int MaxTile = 8 * 32;
    private const int MaxStrips = BlockN / 8 + 2;

    [ThreadStatic] private static float[]? t_packedB;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run(bool transposeA, bool transposeB, int m, int n, int k, float alpha,
        float* a, nint lda, float* b, nint ldb, float beta, float* c, nint ldc)
    {
        int rows = TKernel.Rows, wide = TKernel.Width, narrow = wide / 2;
        nint rowStride = transposeA ? 1 : lda, colStride = transposeA ? lda : 1;
        bool packEveryStrip = transposeB || n > DirectBLimit;
        float* packedB = PackedBBuffer(wide);
        float* packedA = stackalloc float[8 * BlockK];
        float* tile = stackalloc float[MaxTile];
        int* stripStart = stackalloc int[MaxStrips];
        int* stripWidth = stackalloc int[MaxStrips];
        float** stripB = stackalloc float*[MaxStrips];
        nint* stripLdb = stackalloc nint[MaxStrips];

        for (int pc = 0; pc < k; pc += BlockK)
        {
            int kc = Math.Min(BlockK, k - pc);
            float betaBlock = pc == 0 ? beta : 1f;
            for (int jc = 0; jc < n; jc += BlockN)
            {
                int nc = Math.Min(BlockN, n - jc);
                int strips = 0;
                for (int j = 0; j < nc; strips++)
                {
                    int width = nc - j >= wide ? wide : nc - j >= narrow ? narrow : nc - j;
                    stripStart[strips] = j;
                    stripWidth[strips] = width;
                    if (packEveryStrip || width < narrow)
                    {
                        // Strips lie side by side in the buffer: strip j starts at j · kc; a tail is padded to the narrow width.
                        int stride = Math.Max(width, narrow);
                        stripB[strips] = packedB + (nint)j * kc;
                        stripLdb[strips] = stride;
                        PackStrip(b, ldb, transposeB, pc, kc, jc + j, width, stripB[strips], stride);
                    }
                    else
                    {
                        stripB[strips] = b + pc * ldb + jc + j;
                        stripLdb[strips] = ldb;
                    }
                    j += width;
                }

                for (int ir = 0; ir < m; ir += rows)
                {
                    int mr = Math.Min(rows, m - ir);
                    float* aTile = a + ir * rowStride + pc * colStride;
                    nint aRowStride = rowStride, aColStride = colStride;
                    if (mr < rows)
                    {
                        PackRowTail(aTile, rowStride, colStride, mr, rows, kc, packedA);
                        aTile = packedA;
                        aRowStride = 1;
                        aColStride = rows;
                    }
                    else if (transposeA)
                    {
                        // Stored Aᵀ puts the tile's k steps lda floats apart: with lda a multiple of 256 they all
                        // fall in a few L1 sets and evict each other. Copied k-major they are contiguous.
                        PackTransposedTile(aTile, colStride, rows, kc, packedA);
                        aTile = packedA;
                        aRowStride = 1;
                        aColStride = rows;
                    }
                    float* cRow = c + ir * ldc + jc;
                    for (int s = 0; s < strips; s++)
                    {
                        int width = stripWidth[s];
                        float* cTile = cRow + stripStart[s];
                        if (mr == rows && width >= narrow)
                        {
                            if (width == wide)
                                TKernel.Wide(aTile, aRowStride, aColStride, stripB[s], stripLdb[s], kc, cTile, ldc, alpha, betaBlock);
                            else
                                TKernel.Narrow(aTile, aRowStride, aColStride, stripB[s], stripLdb[s], kc, cTile, ldc, alpha, betaBlock);
                        }
                        else
                        {
                            if (width > narrow)
                                TKernel.Wide(aTile, aRowStride, aColStride, stripB[s], stripLdb[s], kc, tile, wide, 1f, 0f);
                            else
                                TKernel.Narrow(aTile, aRowStride, aColStride, stripB[s], stripLdb[s], kc, tile, wide, 1f, 0f);
                            Merge(tile, wide, cTile, ldc, mr, width, alpha, betaBlock);
                        }
                    }
                }
            }
        }
    }

    private static float* PackedBBuffer(int wide)
    {
        // One per thread: shards run GEMMs concurrently.
        return AlignedScratch.Get(ref t_packedB, BlockK * (BlockN + wide));
    }

    /// <summary>dst[p · stride + j] = op(B)[pc + p, j0 + j] for j &lt; width, zero up to stride.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackStrip(float* b, nint ldb, bool transposeB, int pc, int kc, int j0, int width, float* dst, int stride)
    {
        if (!transposeB)
        {
            for (int p = 0; p < kc; p++)
            {
                float* src = b + (pc + p) * ldb + j0;
                float* row = dst + (nint)p * stride;
                new ReadOnlySpan<float>(src, width).CopyTo(new Span<float>(row, width));
                if (stride > width)
                    new Span<float>(row + width, stride - width).Clear();
            }
            return;
        }
        // op(B)[p, j] = B[j, p]. 8 x 8 blocks go through an in-register transpose (8 loads, 24 shuffles,
        // 8 stores: ~6x faster than the scalar copy, which cost a single-row y = x·Wᵀ 15x its multiply);
        // the ragged edges are copied element by element. Only data moves, so results are unchanged.
        int j8 = Avx.IsSupported ? width & ~7 : 0, p8 = kc & ~7;
        for (int j = 0; j < j8; j += 8)
        {
            float* src = b + (j0 + j) * ldb + pc;
            for (int p = 0; p < p8; p += 8)
                Transpose8x8(src + p, ldb, dst + (nint)p * stride + j, stride);
            for (int jj = j; jj < j + 8; jj++)
                for (int p = p8; p < kc; p++)
                    dst[(nint)p * stride + jj] = b[(j0 + jj) * ldb + pc + p];
        }
        for (int j = j8; j < width; j++)
        {
            float* src = b + (j0 + j) * ldb + pc;
            for (int p = 0; p < kc; p++)
                dst[(nint)p * stride + j] = src[p];
        }
        if (stride > width)
            for (int p = 0; p < kc; p++)
                new Span<float>(dst + (nint)p * stride + width, stride - width).Clear();
    }

    /// <summary>dst[q · dstStride + r] = src[r · srcStride + q] for r, q &lt; 8 (AVX unpack / shuffle / lane-permute transpose).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose8x8(float* src, nint srcStride, float* dst, nint dstStride)
    {
        var r0 = Avx.LoadVector256(src);
        var r1 = Avx.LoadVector256(src + srcStride);
        var r2 = Avx.LoadVector256(src + 2 * srcStride);
        var r3 = Avx.LoadVector256(src + 3 * srcStride);
        var r4 = Avx.LoadVector256(src + 4 * srcStride);
        var r5 = Avx.LoadVector256(src + 5 * srcStride);
        var r6 = Avx.LoadVector256(src + 6 * srcStride);
        var r7 = Avx.LoadVector256(src + 7 * srcStride);
        var t0 = Avx.UnpackLow(r0, r1);
        var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3);
        var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5);
        var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7);
        var t7 = Avx.UnpackHigh(r6, r7);
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(dst, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(dst + dstStride, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(dst + 2 * dstStride, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(dst + 3 * dstStride, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(dst + 4 * dstStride, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(dst + 5 * dstStride, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(dst + 6 * dstStride, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(dst + 7 * dstStride, Avx.Permute2x128(u3, u7, 0x31));
    }

    /// <summary>The last mr &lt; rows rows of op(A) as a k-major tile (dst[p · rows + r]), zero-padded to full rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackRowTail(float* a, nint rowStride, nint colStride, int mr, int rows, int kc, float* dst)
    {
        for (int p = 0; p < kc; p++)
        {
            float* src = a + p * colStride;
            float* col = dst + (nint)p * rows;
            int r = 0;
            for (; r < mr; r++)
                col[r] = src[r * rowStride];
            for (; r < rows; r++)
                col[r] = 0f;
        }
    }

    /// <summary>A full tile of stored Aᵀ (rows contiguous floats per k step, lda apart) as dst[p · rows + r].</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackTransposedTile(float* a, nint lda, int rows, int kc, float* dst)
    {
        if (rows == 8)
        {
            for (int p = 0; p < kc; p++)
                Vector256.Store(Vector256.Load(a + p * lda), dst + (nint)p * 8);
            return;
        }
        if (rows == 6)
        {
            // The AVX2 tile: four floats by vector, two by hand (an 8-float load could read past the matrix).
            for (int p = 0; p < kc; p++)
            {
                float* src = a + p * lda;
                float* col = dst + (nint)p * 6;
                Vector128.Store(Vector128.Load(src), col);
                col[4] = src[4];
                col[5] = src[5];
            }
            return;
        }
        for (int p = 0; p < kc; p++)
            for (int r = 0; r < rows; r++)
                dst[(nint)p * rows + r] = a[p * lda + r];
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Merge(float* tile, int tileStride, float* c, nint ldc, int rows, int cols, float alpha, float beta)
    {
        for (int r = 0; r < rows; r++)
        {
            float* t = tile + r * tileStride;
            float* dst = c + r * ldc;
            if (beta == 0f)
                for (int j = 0; j < cols; j++)
                    dst[j] = alpha * t[j];
            else
                for (int j = 0; j < cols; j++)
                    dst[j] = MathF.FusedMultiplyAdd(dst[j], beta, alpha * t[j]);    // rounds as the kernels' stores do
        }
    }
}
