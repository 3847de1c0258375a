using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The spline's knot derivatives eight at a time: d = m + softplus(u + c) and, optionally, its
/// derivative σ(u + c), from one exp per element: with e = exp(-|v|), softplus(v) = max(v, 0) +
/// log1p(e) and σ(v) = (v ≥ 0 ? 1 : e) / (1 + e). Spans in, spans out, no allocation; the outputs
/// may be the input span itself.
/// </summary>
/// <remarks>
/// log1p(e) is log(w) · e / (w - 1) with w = 1 + e (exact where w rounds to 1): the plain log(1 + e)
/// loses all of e below 6e-8, which is a 6e-5 relative error in a derivative floored at 1e-3.
/// <see cref="Reference"/> is the scalar definition the tests hold this to.
/// </remarks>
public static class SoftplusKernel
{
    /// <summary>derivative[i] = minimum + softplus(u[i] + shift); sigmoid[i] = σ(u[i] + shift) unless <paramref name="sigmoid"/> is empty.</summary>
    public static void Apply(ReadOnlySpan<float> u, float shift, float minimum, Span<float> derivative, Span<float> sigmoid)
    {
        bool withSigmoid = !sigmoid.IsEmpty;
        if (derivative.Length < u.Length || (withSigmoid && sigmoid.Length < u.Length))
            throw new ArgumentException($"Destinations hold {derivative.Length} and {sigmoid.Length} floats, {u.Length} are needed.");
        int n = u.Length, i = 0;
        ref float source = ref MemoryMarshal.GetReference(u);
        ref float d = ref MemoryMarshal.GetReference(derivative);
        ref float g = ref MemoryMarshal.GetReference(sigmoid);
        var shifts = Vector256.Create(shift);
        var minimums = Vector256.Create(minimum);
        for (; i + 8 <= n; i += 8)
        {
            var (softplus, sig) = Evaluate(Vector256.LoadUnsafe(ref source, (nuint)i) + shifts);
            (softplus + minimums).StoreUnsafe(ref d, (nuint)i);
            if (withSigmoid)
                sig.StoreUnsafe(ref g, (nuint)i);
        }
        if (i < n)
        {
            // The tail through the same vector formula (one padded vector), so every element rounds alike.
            Span<float> lane = stackalloc float[8];
            lane.Clear();
            u[i..].CopyTo(lane);
            var (softplus, sig) = Evaluate(Vector256.Create((ReadOnlySpan<float>)lane) + shifts);
            (softplus + minimums).CopyTo(lane);
            lane[..(n - i)].CopyTo(derivative[i..]);
            if (withSigmoid)
            {
                sig.CopyTo(lane);
                lane[..(n - i)].CopyTo(sigmoid[i..]);
            }
        }
    }

    /// <summary>
    /// The scalar definition, evaluated in double from the same float v = u + shift and rounded once
    /// (float's LogP1 is log(1 + x) in float, which loses up to 1e-6 relative for e^v near 0.04).
    /// </summary>
    public static void Reference(ReadOnlySpan<float> u, float shift, float minimum, Span<float> derivative, Span<float> sigmoid)
    {
        for (int i = 0; i < u.Length; i++)
        {
            double v = u[i] + shift;
            derivative[i] = (float)(minimum + (v > 0 ? v + double.LogP1(Math.Exp(-v)) : double.LogP1(Math.Exp(v))));
            if (!sigmoid.IsEmpty)
                sigmoid[i] = (float)(v >= 0 ? 1 / (1 + Math.Exp(-v)) : Math.Exp(v) / (1 + Math.Exp(v)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<float> Softplus, Vector256<float> Sigmoid) Evaluate(Vector256<float> v)
    {
        var e = Vector256.Exp(-Vector256.Abs(v));
        var w = Vector256<float>.One + e;
        var log1p = Vector256.ConditionalSelect(Vector256.Equals(w, Vector256<float>.One), e, Vector256.Log(w) * e / (w - Vector256<float>.One));
        var positive = Vector256.GreaterThanOrEqual(v, Vector256<float>.Zero);
        var softplus = (v & positive) + log1p;
        var sigmoid = Vector256.ConditionalSelect(positive, Vector256<float>.One, e) / w;
        return (softplus, sigmoid);
    }
}
