using System.Buffers;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The CPU backend's rational-quadratic spline over whole rows: forward with the row's summed
/// log|det|, inverse, and backward. Same math, same parameter layout and same float operation order
/// per element as the scalar reference <see cref="RationalQuadraticSpline"/>, which the tests hold
/// this to; the transcendentals are batched per row.
/// </summary>
/// <remarks>
/// Why: the reference spends most of an element on its exps (a softmax of K widths and K heights,
/// two softplus, a log, in backward two sigmoids), each through a span call of K floats, and
/// computes all K + 1 knots of both axes before it searches. Here one row's D·K widths and heights
/// are exponentiated in one SIMD pass (they are contiguous in the row), the D·(K-1) knot
/// derivatives (softplus) and their sigmoids in another, the D log-derivatives in a third, so the
/// per-element loop left is plain float arithmetic that walks the knots only up to the bin it needs.
/// Scratch is per call: on the stack for usual widths, pooled beyond that; nothing is allocated.
/// A row of the parameters is read completely before its gradients are written, so
/// <c>dParameters</c> may be the parameters themselves, y may be x, and dx may be dy.
/// Parameters that every row shares (an element-wise spline with no conditioner, <c>ElementwiseSpline</c>) are prepared
/// once per call instead of once per row: that preparation was a fifth of a Gaussianization flow's training and scoring
/// time. The elements see the same prepared values either way, so the outputs are identical to the bit.
/// </remarks>
[SkipLocalsInit]
public static class RationalQuadraticSplineKernel
{
    private const int StackFloats = 4096;
    private static readonly float MinWidth = (float)RationalQuadraticSpline.MinBinWidth;
    private static readonly float MinHeight = (float)RationalQuadraticSpline.MinBinHeight;
    private static readonly float MinDerivative = (float)RationalQuadraticSpline.MinDerivative;
    private static readonly float Shift = (float)RationalQuadraticSpline.DerivativeShift;

    /// <summary>
    /// y = spline(x) for <paramref name="rows"/> rows of <paramref name="features"/>; <b>adds</b> each
    /// row's Σ log|dy/dx| to <paramref name="logDet"/>[row]. Parameters: rows x D(3K-1), kind-major, or one such row that
    /// every row shares when <paramref name="shared"/>.
    /// </summary>
    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> parameters, int rows, int features, int bins, float tailBound,
        Span<float> y, Span<float> logDet, bool shared = false)
    {
        int width = Check(x, parameters, rows, features, bins, y.Length, "y", shared);
        if (logDet.Length < rows)
            throw new ArgumentException($"logDet holds {logDet.Length} floats, {rows} are needed.", nameof(logDet));
        int dk = features * bins, dd = features * (bins - 1);
        int length = 2 * dk + dd + features + 2 * features;
        float[]? rented = length <= StackFloats ? null : ArrayPool<float>.Shared.Rent(length);
        Span<float> scratch = rented is null ? stackalloc float[StackFloats] : rented;
        try
        {
            Span<float> e = scratch[..(2 * dk)], d = scratch.Slice(2 * dk, dd), ratio = scratch.Slice(2 * dk + dd, features);
            Span<float> sums = scratch.Slice(2 * dk + dd + features, 2 * features);
            for (int r = 0; r < rows; r++)
            {
                if (r == 0 || !shared)
                    Prepare(parameters.Slice(shared ? 0 : r * width, width), features, bins, e, sums, d, Span<float>.Empty);
                for (int i = 0; i < features; i++)
                {
                    int at = r * features + i;
                    y[at] = ForwardElement(x[at], e.Slice(i * bins, bins), sums[i], e.Slice(dk + i * bins, bins), sums[features + i], d.Slice(i * (bins - 1), bins - 1), tailBound, out ratio[i]);
                }
                TensorPrimitives.Log(ratio, ratio);
                logDet[r] += TensorPrimitives.Sum(ratio);
            }
        }
        finally
        {
            if (rented is not null)
                ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>x = spline⁻¹(y), element-wise over <paramref name="rows"/> x <paramref name="features"/> (parameters as for
    /// <see cref="Forward"/>).</summary>
    public static void Inverse(ReadOnlySpan<float> y, ReadOnlySpan<float> parameters, int rows, int features, int bins, float tailBound, Span<float> x,
        bool shared = false)
    {
        int width = Check(y, parameters, rows, features, bins, x.Length, "x", shared);
        int dk = features * bins, dd = features * (bins - 1);
        int length = 2 * dk + dd + 2 * features;
        float[]? rented = length <= StackFloats ? null : ArrayPool<float>.Shared.Rent(length);
        Span<float> scratch = rented is null ? stackalloc float[StackFloats] : rented;
        try
        {
            Span<float> e = scratch[..(2 * dk)], d = scratch.Slice(2 * dk, dd), sums = scratch.Slice(2 * dk + dd, 2 * features);
            for (int r = 0; r < rows; r++)
            {
                if (r == 0 || !shared)
                    Prepare(parameters.Slice(shared ? 0 : r * width, width), features, bins, e, sums, d, Span<float>.Empty);
                for (int i = 0; i < features; i++)
                {
                    int at = r * features + i;
                    x[at] = InverseElement(y[at], e.Slice(i * bins, bins), sums[i], e.Slice(dk + i * bins, bins), sums[features + i], d.Slice(i * (bins - 1), bins - 1), tailBound);
                }
            }
        }
        finally
        {
            if (rented is not null)
                ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// Given dL/dy and dL/dlogDet (one per row) at input x, overwrites dL/dx and dL/dparameters
    /// (rows x D(3K-1), the parameters' layout; every slot is written). With <paramref name="shared"/> parameters (one row
    /// for every row) it still writes one gradient row per row, for the caller to sum in the order it sums unshared ones.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> parameters, ReadOnlySpan<float> dy, ReadOnlySpan<float> dLogDet,
        int rows, int features, int bins, float tailBound, Span<float> dx, Span<float> dParameters, bool shared = false)
    {
        int width = Check(x, parameters, rows, features, bins, dx.Length, "dx", shared);
        if (dy.Length < rows * features || dLogDet.Length < rows)
            throw new ArgumentException($"dy holds {dy.Length} and dLogDet {dLogDet.Length} floats, {rows * features} and {rows} are needed.", nameof(dy));
        if (dParameters.Length < rows * width)
            throw new ArgumentException($"dParameters holds {dParameters.Length} floats, {rows * width} are needed.", nameof(dParameters));
        int dk = features * bins, dd = features * (bins - 1);
        int length = 2 * dk + 2 * dd + 2 * features;
        float[]? rented = length <= StackFloats ? null : ArrayPool<float>.Shared.Rent(length);
        Span<float> scratch = rented is null ? stackalloc float[StackFloats] : rented;
        try
        {
            Span<float> e = scratch[..(2 * dk)], d = scratch.Slice(2 * dk, dd), sigmoid = scratch.Slice(2 * dk + dd, dd);
            Span<float> sums = scratch.Slice(2 * dk + 2 * dd, 2 * features);
            for (int r = 0; r < rows; r++)
            {
                if (r == 0 || !shared)
                    Prepare(parameters.Slice(shared ? 0 : r * width, width), features, bins, e, sums, d, sigmoid);
                var gradient = dParameters.Slice(r * width, width);
                var dDerivatives = gradient.Slice(2 * dk, dd);
                dDerivatives.Clear();
                float g = dLogDet[r];
                for (int i = 0; i < features; i++)
                {
                    int at = r * features + i;
                    dx[at] = BackwardElement(x[at], e.Slice(i * bins, bins), sums[i], e.Slice(dk + i * bins, bins), sums[features + i], d.Slice(i * (bins - 1), bins - 1),
                        sigmoid.Slice(i * (bins - 1), bins - 1), tailBound, dy[at], g,
                        gradient.Slice(i * bins, bins), gradient.Slice(dk + i * bins, bins), dDerivatives.Slice(i * (bins - 1), bins - 1));
                }
            }
        }
        finally
        {
            if (rented is not null)
                ArrayPool<float>.Shared.Return(rented);
        }
    }

    /// <summary>
    /// One row's transcendentals: e = exp(u - max of its bin group) for the D·K widths then D·K heights
    /// (unnormalised softmax) and each group's Σe (summed as the reference sums, so the knots round
    /// alike: the last bins' sizes are differences of knots near ±B), d = m + softplus(u + c) for the D·(K-1) derivatives, and, when
    /// <paramref name="sigmoid"/> is not empty, σ(u + c) = d'(u).
    /// </summary>
    private static void Prepare(ReadOnlySpan<float> row, int features, int bins, Span<float> e, Span<float> sums, Span<float> d, Span<float> sigmoid)
    {
        int groups = 2 * features;
        for (int g = 0; g < groups; g++)
        {
            var u = row.Slice(g * bins, bins);
            float max = u[0];
            for (int j = 1; j < bins; j++)
                max = MathF.Max(max, u[j]);
            var target = e.Slice(g * bins, bins);
            for (int j = 0; j < bins; j++)
                target[j] = u[j] - max;
        }
        TensorPrimitives.Exp(e, e);
        for (int g = 0; g < groups; g++)
            sums[g] = TensorPrimitives.Sum(e.Slice(g * bins, bins));
        SoftplusKernel.Apply(row.Slice(groups * bins, d.Length), Shift, MinDerivative, d, sigmoid);
    }

    /// <summary>Reference's Forward for one element; <paramref name="ratio"/> = dy/dx (1 in the tails), whose log the caller takes for the whole row.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ForwardElement(float x, ReadOnlySpan<float> ew, float sumX, ReadOnlySpan<float> eh, float sumY, ReadOnlySpan<float> d, float bound, out float ratio)
    {
        if (!(MathF.Abs(x) <= bound))
        {
            ratio = 1f;
            return x;
        }
        var bin = SplineBin.ByX(x, ew, sumX, eh, sumY, d, bound);
        float theta = (x - bin.X) / bin.Width;
        float t = theta * (1f - theta);
        float s = bin.Slope;
        float denominator = s + (bin.D0 + bin.D1 - s - s) * t;
        float numerator = bin.Height * (s * theta * theta + bin.D0 * t);
        float oneMinus = 1f - theta;
        float derivativeNumerator = s * s * (bin.D1 * theta * theta + (s + s) * t + bin.D0 * oneMinus * oneMinus);
        ratio = derivativeNumerator / (denominator * denominator);
        return bin.Y + numerator / denominator;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float InverseElement(float y, ReadOnlySpan<float> ew, float sumX, ReadOnlySpan<float> eh, float sumY, ReadOnlySpan<float> d, float bound)
    {
        if (!(MathF.Abs(y) <= bound))
            return y;
        var bin = SplineBin.ByY(y, ew, sumX, eh, sumY, d, bound);
        float s = bin.Slope;
        float offset = y - bin.Y;
        float curvature = bin.D0 + bin.D1 - s - s;
        float a = bin.Height * (s - bin.D0) + offset * curvature;
        float b = bin.Height * bin.D0 - offset * curvature;
        float c = -s * offset;
        float discriminant = MathF.Max(b * b - 4f * a * c, 0f);
        float theta = (c + c) / (-b - MathF.Sqrt(discriminant));
        return theta * bin.Width + bin.X;
    }

    private static float BackwardElement(float x, ReadOnlySpan<float> ew, float sumX, ReadOnlySpan<float> eh, float sumY, ReadOnlySpan<float> d, ReadOnlySpan<float> sigmoid,
        float bound, float dy, float dLogAbsDet, Span<float> dWidths, Span<float> dHeights, Span<float> dDerivatives)
    {
        int bins = ew.Length;
        if (!(MathF.Abs(x) <= bound))
        {
            dWidths.Clear();
            dHeights.Clear();
            return dy;
        }
        var bin = SplineBin.ByX(x, ew, sumX, eh, sumY, d, bound);
        int k = bin.Index;
        float w = bin.Width, h = bin.Height, s = bin.Slope, d0 = bin.D0, d1 = bin.D1;
        float theta = (x - bin.X) / w;
        float oneMinus = 1f - theta;
        float t = theta * oneMinus;
        float oneMinus2Theta = 1f - 2f * theta;
        float curvature = d0 + d1 - 2f * s;
        float den = s + curvature * t;
        float p = s * theta * theta + d0 * t;
        float q = d1 * theta * theta + 2f * s * t + d0 * oneMinus * oneMinus;
        float den2 = den * den;

        float yTheta = h * s * q / den2;
        float yS = h * (theta * theta * den - p * (1f - 2f * t)) / den2;
        float yH = p / den;
        float yD0 = h * t * (den - p) / den2;
        float yD1 = -h * p * t / den2;
        float lTheta = (2f * d1 * theta + 2f * s * oneMinus2Theta - 2f * d0 * oneMinus) / q - 2f * curvature * oneMinus2Theta / den;
        float lS = 2f / s + 2f * t / q - 2f * (1f - 2f * t) / den;
        float lD0 = oneMinus * oneMinus / q - 2f * t / den;
        float lD1 = theta * theta / q - 2f * t / den;

        float gTheta = dy * yTheta + dLogAbsDet * lTheta;
        float gS = dy * yS + dLogAbsDet * lS;
        float gX = gTheta / w;
        float gKnotX = -gTheta / w;
        float gWidth = -(gTheta * theta + gS * s) / w;
        float gHeight = dy * yH + gS / w;

        BinGradient(ew, sumX, k, gKnotX, gWidth, bound, MinWidth, dWidths);
        BinGradient(eh, sumY, k, dy, gHeight, bound, MinHeight, dHeights);
        if (k > 0)
            dDerivatives[k - 1] = (dy * yD0 + dLogAbsDet * lD0) * sigmoid[k - 1];
        if (k < bins - 1)
            dDerivatives[k] = (dy * yD1 + dLogAbsDet * lD1) * sigmoid[k];
        return gX;
    }

    /// <summary>The reference's BinGradient with p_j = e_j / Σe: dL/du_j = (1 - mK) 2B p_j (g_j - Σ_i p_i g_i).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void BinGradient(ReadOnlySpan<float> e, float sum, int k, float gKnot, float gSize, float bound, float minimum, Span<float> gradient)
    {
        int bins = e.Length;
        float factor = (bound + bound) * (1f - minimum * bins);
        float below = 0f;
        for (int i = 0; i < k; i++)
            below += e[i] / sum;
        float pk = e[k] / sum;
        float mean = gKnot * below + gSize * pk;
        for (int j = 0; j < k; j++)
            gradient[j] = factor * (e[j] / sum) * (gKnot - mean);
        gradient[k] = factor * pk * (gSize - mean);
        for (int j = k + 1; j < bins; j++)
            gradient[j] = factor * (e[j] / sum) * -mean;
    }

    private static int Check(ReadOnlySpan<float> input, ReadOnlySpan<float> parameters, int rows, int features, int bins, int outputLength, string output,
        bool shared)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(features);
        if (bins < 1 || bins > RationalQuadraticSpline.MaxBins)
            throw new ArgumentOutOfRangeException(nameof(bins), $"A spline needs 1..{RationalQuadraticSpline.MaxBins} bins, not {bins}.");
        int width = features * RationalQuadraticSpline.ParametersPerElement(bins);
        int parameterRows = shared ? Math.Min(rows, 1) : rows;
        if (input.Length < rows * features || parameters.Length < parameterRows * width)
            throw new ArgumentException($"{rows} rows of {features} features with {bins} bins need {rows * features} inputs and {parameterRows * width} parameters; got {input.Length} and {parameters.Length}.");
        if (outputLength < rows * features)
            throw new ArgumentException($"{output} holds {outputLength} floats, {rows * features} are needed.", output);
        return width;
    }
}
