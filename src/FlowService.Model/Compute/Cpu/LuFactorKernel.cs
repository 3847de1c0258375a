using System.Buffers;
using System.Numerics;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The D³ parts of an LU-parameterised D x D map (<see cref="CpuBackend.LuCompose"/> and
/// <see cref="CpuBackend.LuComposeBackward"/>): the product A = L · M with L unit lower triangular and
/// M = U + diag(exp(logScale)) upper triangular, and the gradients of the factors from dA, all in double.
/// </summary>
/// <remarks>
/// Why: training a Gaussianization flow composes W and its gradient on every step of every shard, and on 64 columns the
/// element-by-element loops (a closure call and a strided read per term) were a third of the whole search's time
/// (`perf`, bench/RESULTS.md). Here each output row is built as a sum of scaled rows, which SIMD runs along contiguous
/// memory. Every output element still adds the same terms in the same order as the element-by-element definition, each
/// term a rounded product then a rounded sum (no fused multiply-add), so the results are the same to the bit
/// (<c>LuFactorKernelTests</c>).
/// </remarks>
internal static class LuFactorKernel
{
    /// <summary>A = L · M (d x d, row-major): A[i, j] = Σ_{k ≤ min(i, j)} L[i, k] · M[k, j], k ascending.</summary>
    public static void Product(ReadOnlySpan<float> lower, ReadOnlySpan<float> upper, ReadOnlySpan<float> logScale, int d, Span<double> product)
    {
        var m = ArrayPool<double>.Shared.Rent(d * d);
        try
        {
            UpperFactor(upper, logScale, d, m);
            product[..(d * d)].Clear();
            for (int i = 0; i < d; i++)
            {
                var row = product.Slice(i * d, d);
                // Row i of A: Σ_k L[i, k] · (row k of M), restricted to the columns j ≥ k where M[k, j] can be nonzero.
                for (int k = 0; k <= i; k++)
                    AddScaled(row[k..], k == i ? 1.0 : lower[i * d + k], m.AsSpan(k * d + k, d - k));
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(m);
        }
    }

    /// <summary>
    /// Given dA (d x d, double) of A = L · M, <b>adds</b> dL = dA · Mᵀ (strict lower part), dU = Lᵀ · dA (strict upper part)
    /// and dlogScale = diag(Lᵀ · dA) ∘ exp(logScale), each element summed in the definition's order.
    /// </summary>
    public static void ProductBackward(ReadOnlySpan<float> lower, ReadOnlySpan<float> upper, ReadOnlySpan<float> logScale, int d, ReadOnlySpan<double> dA,
        Span<float> dLower, Span<float> dUpper, Span<float> dLogScale)
    {
        var m = ArrayPool<double>.Shared.Rent(d * d);
        var mTransposed = ArrayPool<double>.Shared.Rent(d * d);
        var accumulator = ArrayPool<double>.Shared.Rent(d);
        try
        {
            UpperFactor(upper, logScale, d, m);
            for (int k = 0; k < d; k++)
                for (int j = 0; j < d; j++)
                    mTransposed[j * d + k] = m[k * d + j];
            var sums = accumulator.AsSpan(0, d);
            for (int i = 0; i < d; i++)
            {
                // dL[i, k] for k < i: Σ_{j ≥ k} dA[i, j] · M[k, j], j ascending; as rows of Mᵀ: the terms j ≥ k of column k.
                sums.Clear();
                for (int j = 0; j < d; j++)
                {
                    int width = Math.Min(j + 1, i);
                    if (width > 0)
                        AddScaled(sums[..width], dA[i * d + j], mTransposed.AsSpan(j * d, width));
                }
                for (int k = 0; k < i; k++)
                    dLower[i * d + k] += (float)sums[k];

                // dM[i, k] for k ≥ i: Σ_{a ≥ i} L[a, i] · dA[a, k], a ascending: rows a of dA scaled by column i of L.
                var tail = sums[..(d - i)];
                tail.Clear();
                for (int a = i; a < d; a++)
                    AddScaled(tail, a == i ? 1.0 : lower[a * d + i], dA.Slice(a * d + i, d - i));
                dLogScale[i] += (float)(tail[0] * Math.Exp(logScale[i]));
                for (int k = i + 1; k < d; k++)
                    dUpper[i * d + k] += (float)tail[k - i];
            }
        }
        finally
        {
            ArrayPool<double>.Shared.Return(accumulator);
            ArrayPool<double>.Shared.Return(mTransposed);
            ArrayPool<double>.Shared.Return(m);
        }
    }

    /// <summary>M = U + diag(exp(logScale)) as a dense d x d double matrix (zero below the diagonal).</summary>
    private static void UpperFactor(ReadOnlySpan<float> upper, ReadOnlySpan<float> logScale, int d, Span<double> m)
    {
        for (int k = 0; k < d; k++)
        {
            var row = m.Slice(k * d, d);
            row[..k].Clear();
            row[k] = Math.Exp(logScale[k]);
            for (int j = k + 1; j < d; j++)
                row[j] = upper[k * d + j];
        }
    }

    /// <summary>sum[j] += scale · row[j], a rounded product then a rounded sum per element, as the scalar expression is.</summary>
    private static void AddScaled(Span<double> sum, double scale, ReadOnlySpan<double> row)
    {
        int j = 0;
        if (Vector.IsHardwareAccelerated && sum.Length >= Vector<double>.Count)
        {
            var factor = new Vector<double>(scale);
            for (; j <= sum.Length - Vector<double>.Count; j += Vector<double>.Count)
            {
                var target = sum.Slice(j, Vector<double>.Count);
                var product = factor * new Vector<double>(row.Slice(j, Vector<double>.Count));
                (new Vector<double>(target) + product).CopyTo(target);
            }
        }
        for (; j < sum.Length; j++)
            sum[j] += scale * row[j];
    }
}
