using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The element-wise half of a dense layer, fused so the pre-activation is read and written once:
/// forward y = f(x + b) row by row after the GEMM, backward dPre = dY ⊙ f′ and db += Σ_rows dPre.
/// Row-major rows x cols with cols = bias length. Spans in, span out, no allocation.
/// </summary>
/// <remarks>
/// In place is allowed where documented (the same span, not a shifted one). The vector loops take
/// Vector512 steps, then Vector256, then scalars, and never re-process an element, so in-place
/// calls are safe at every length.
/// </remarks>
public static class BiasActivation
{
    /// <summary>y[r, j] = f(x[r, j] + bias[j]). <paramref name="y"/> may be <paramref name="x"/> itself.</summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> bias, Span<float> y, FusedActivation activation)
    {
        int rows = Rows(x.Length, bias.Length, nameof(x));
        RequireDestination(y.Length, x.Length, nameof(y));
        switch (activation)
        {
            case FusedActivation.Identity: Forward<IdentityOperator>(x, bias, y, rows); break;
            case FusedActivation.Relu: Forward<ReluOperator>(x, bias, y, rows); break;
            case FusedActivation.Tanh: Forward<TanhOperator>(x, bias, y, rows); break;
            case FusedActivation.Elu: Forward<EluOperator>(x, bias, y, rows); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, null);
        }
    }

    /// <summary>
    /// dPre[r, j] = dY[r, j] · f′ (through the forward output <paramref name="y"/>), and
    /// <paramref name="biasGradient"/>[j] += Σ_r dPre[r, j]. <paramref name="dPre"/> may be <paramref name="dy"/> itself.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dPre, Span<float> biasGradient, FusedActivation activation)
    {
        int rows = Rows(y.Length, biasGradient.Length, nameof(y));
        if (dy.Length != y.Length)
            throw new ArgumentException($"dy holds {dy.Length} floats, y {y.Length}.", nameof(dy));
        RequireDestination(dPre.Length, y.Length, nameof(dPre));
        switch (activation)
        {
            case FusedActivation.Identity: Backward<IdentityOperator>(y, dy, dPre, biasGradient, rows); break;
            case FusedActivation.Relu: Backward<ReluOperator>(y, dy, dPre, biasGradient, rows); break;
            case FusedActivation.Tanh: Backward<TanhOperator>(y, dy, dPre, biasGradient, rows); break;
            case FusedActivation.Elu: Backward<EluOperator>(y, dy, dPre, biasGradient, rows); break;
            default: throw new ArgumentOutOfRangeException(nameof(activation), activation, null);
        }
    }

    private static int Rows(int length, int cols, string name)
    {
        if (cols == 0)
            return length == 0 ? 0 : throw new ArgumentException($"{name} holds {length} floats but the bias is empty.", name);
        if (length % cols != 0)
            throw new ArgumentException($"{name} holds {length} floats, not a whole number of rows of {cols}.", name);
        return length / cols;
    }

    private static void RequireDestination(int length, int needed, string name)
    {
        if (length < needed)
            throw new ArgumentException($"Destination is too short: {name} holds {length} floats, {needed} are needed.", name);
    }

    /// <summary>Rows of 16 or 32 values (an image conditioner's channels) take the paths that keep the bias, or its gradient, in registers.</summary>
    private static bool IsNarrow(int cols) => Vector512.IsHardwareAccelerated && cols is 16 or 32;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Forward<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> bias, Span<float> y, int rows) where TOp : struct, IActivationOperator
    {
        int cols = bias.Length;
        if (IsNarrow(cols))
        {
            ForwardNarrow<TOp>(x, bias, y, rows);
            return;
        }
        ref float b = ref MemoryMarshal.GetReference(bias);
        for (int r = 0; r < rows; r++)
        {
            ref float xr = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), r * cols);
            ref float yr = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), r * cols);
            nuint j = 0, n = (nuint)cols;
            if (Vector512.IsHardwareAccelerated)
                for (; j + 16 <= n; j += 16)
                    TOp.Invoke(Vector512.LoadUnsafe(ref xr, j) + Vector512.LoadUnsafe(ref b, j)).StoreUnsafe(ref yr, j);
            if (Vector256.IsHardwareAccelerated)
                for (; j + 8 <= n; j += 8)
                    TOp.Invoke(Vector256.LoadUnsafe(ref xr, j) + Vector256.LoadUnsafe(ref b, j)).StoreUnsafe(ref yr, j);
            for (; j < n; j++)
                Unsafe.Add(ref yr, j) = TOp.Invoke(Unsafe.Add(ref xr, j) + Unsafe.Add(ref b, j));
        }
    }

    /// <summary>
    /// <see cref="Forward{TOp}"/> for rows of 16 or 32: the bias loaded once, not per row. The per-row loop's set-up
    /// (two 512-bit steps a row) was most of the time of a conditioner's epilogue.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardNarrow<TOp>(ReadOnlySpan<float> x, ReadOnlySpan<float> bias, Span<float> y, int rows) where TOp : struct, IActivationOperator
    {
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        nuint count = (nuint)rows * (nuint)bias.Length;
        var b0 = Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(bias));
        if (bias.Length == 16)
        {
            for (nuint i = 0; i < count; i += 16)
                TOp.Invoke(Vector512.LoadUnsafe(ref xr, i) + b0).StoreUnsafe(ref yr, i);
            return;
        }
        var b1 = Vector512.LoadUnsafe(ref MemoryMarshal.GetReference(bias), 16);
        for (nuint i = 0; i < count; i += 32)
        {
            TOp.Invoke(Vector512.LoadUnsafe(ref xr, i) + b0).StoreUnsafe(ref yr, i);
            TOp.Invoke(Vector512.LoadUnsafe(ref xr, i + 16) + b1).StoreUnsafe(ref yr, i + 16);
        }
    }

    /// <summary>
    /// <see cref="Backward{TOp}"/> for rows of 16 or 32: the bias gradient summed in registers and stored once. It starts
    /// from the stored value and adds the rows in order, as the general path does, so the sums are the same to the bit.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardNarrow<TOp>(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dPre, Span<float> biasGradient, int rows)
        where TOp : struct, IActivationOperator
    {
        ref float yr = ref MemoryMarshal.GetReference(y);
        ref float dyr = ref MemoryMarshal.GetReference(dy);
        ref float dpr = ref MemoryMarshal.GetReference(dPre);
        ref float db = ref MemoryMarshal.GetReference(biasGradient);
        nuint count = (nuint)rows * (nuint)biasGradient.Length;
        var s0 = Vector512.LoadUnsafe(ref db);
        if (biasGradient.Length == 16)
        {
            for (nuint i = 0; i < count; i += 16)
            {
                var d = Vector512.LoadUnsafe(ref dyr, i) * TOp.DerivativeFromOutput(Vector512.LoadUnsafe(ref yr, i));
                d.StoreUnsafe(ref dpr, i);
                s0 += d;
            }
            s0.StoreUnsafe(ref db);
            return;
        }
        var s1 = Vector512.LoadUnsafe(ref db, 16);
        for (nuint i = 0; i < count; i += 32)
        {
            var d0 = Vector512.LoadUnsafe(ref dyr, i) * TOp.DerivativeFromOutput(Vector512.LoadUnsafe(ref yr, i));
            var d1 = Vector512.LoadUnsafe(ref dyr, i + 16) * TOp.DerivativeFromOutput(Vector512.LoadUnsafe(ref yr, i + 16));
            d0.StoreUnsafe(ref dpr, i);
            d1.StoreUnsafe(ref dpr, i + 16);
            s0 += d0;
            s1 += d1;
        }
        s0.StoreUnsafe(ref db);
        s1.StoreUnsafe(ref db, 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Backward<TOp>(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dPre, Span<float> biasGradient, int rows) where TOp : struct, IActivationOperator
    {
        int cols = biasGradient.Length;
        if (IsNarrow(cols))
        {
            BackwardNarrow<TOp>(y, dy, dPre, biasGradient, rows);
            return;
        }
        ref float db = ref MemoryMarshal.GetReference(biasGradient);
        for (int r = 0; r < rows; r++)
        {
            ref float yr = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), r * cols);
            ref float dyr = ref Unsafe.Add(ref MemoryMarshal.GetReference(dy), r * cols);
            ref float dpr = ref Unsafe.Add(ref MemoryMarshal.GetReference(dPre), r * cols);
            nuint j = 0, n = (nuint)cols;
            if (Vector512.IsHardwareAccelerated)
            {
                for (; j + 16 <= n; j += 16)
                {
                    var d = Vector512.LoadUnsafe(ref dyr, j) * TOp.DerivativeFromOutput(Vector512.LoadUnsafe(ref yr, j));
                    d.StoreUnsafe(ref dpr, j);
                    (Vector512.LoadUnsafe(ref db, j) + d).StoreUnsafe(ref db, j);
                }
            }
            if (Vector256.IsHardwareAccelerated)
            {
                for (; j + 8 <= n; j += 8)
                {
                    var d = Vector256.LoadUnsafe(ref dyr, j) * TOp.DerivativeFromOutput(Vector256.LoadUnsafe(ref yr, j));
                    d.StoreUnsafe(ref dpr, j);
                    (Vector256.LoadUnsafe(ref db, j) + d).StoreUnsafe(ref db, j);
                }
            }
            for (; j < n; j++)
            {
                float d = Unsafe.Add(ref dyr, j) * TOp.DerivativeFromOutput(Unsafe.Add(ref yr, j));
                Unsafe.Add(ref dpr, j) = d;
                Unsafe.Add(ref db, j) += d;
            }
        }
    }
}
