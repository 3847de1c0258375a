using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The monotonic rational-quadratic spline of one element (Durkan et al. 2019, "Neural Spline
/// Flows"): forward value and log-derivative, inverse, and the gradient with respect to the input
/// and the unnormalised bin parameters. This scalar code is the reference the backends are held
/// to: the CPU backend runs it in float, the tests run it in double against finite differences.
/// </summary>
/// <remarks>
/// K bins cover [-B, B]. Widths and heights are softmax-ed, then floored at
/// <see cref="MinBinWidth"/> / <see cref="MinBinHeight"/> of the interval:
/// w = B2 · (m + (1 - m K) · softmax(u)), B2 = 2B. The K - 1 interior knot derivatives are
/// <see cref="MinDerivative"/> + softplus(u + c) with c = log(e^(1-m) - 1), so that u = 0 gives a
/// derivative of exactly 1 and all-zero parameters give the identity (a zero-initialised
/// conditioner makes the flow start as the identity); the two boundary derivatives are fixed to 1
/// (nflows pads them with that same c), so the
/// spline joins the identity tails outside [-B, B] with a continuous derivative (as nflows' and
/// zuko's unconstrained splines do). With θ = (x - x_k)/w_k, s = h_k/w_k:
/// y = y_k + h_k (s θ² + d_k θ(1-θ)) / (s + (d_k + d_{k+1} - 2s) θ(1-θ)),
/// dy/dx = s² (d_{k+1} θ² + 2 s θ(1-θ) + d_k (1-θ)²) / (s + (d_k + d_{k+1} - 2s) θ(1-θ))².
/// At most <see cref="MaxBins"/> bins (scratch lives on the stack).
/// </remarks>
[SkipLocalsInit] // the per-element scratch on the stack is always written before it is read
public static class RationalQuadraticSpline
{
    public const double MinBinWidth = 1e-3;
    public const double MinBinHeight = 1e-3;
    public const double MinDerivative = 1e-3;
    public const int MaxBins = 128;

    /// <summary>c = log(e^(1-m) - 1): softplus(c) + m = 1, the shift that makes u = 0 the unit derivative.</summary>
    public static readonly double DerivativeShift = Math.Log(Math.Exp(1 - MinDerivative) - 1);

    /// <summary>Number of unnormalised parameters one element needs: K widths, K heights, K - 1 derivatives.</summary>
    public static int ParametersPerElement(int bins) => 3 * bins - 1;

    /// <summary>y = spline(x); <paramref name="logAbsDet"/> = log|dy/dx| (0 in the tails).</summary>
    public static T Forward<T>(T x, ReadOnlySpan<T> widths, ReadOnlySpan<T> heights, ReadOnlySpan<T> derivatives, T tailBound, out T logAbsDet)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bins = CheckShapes(widths, heights, derivatives);
        if (!(T.Abs(x) <= tailBound))
        {
            logAbsDet = T.Zero;
            return x;
        }
        Span<T> knotsX = stackalloc T[bins + 1];
        Span<T> knotsY = stackalloc T[bins + 1];
        Span<T> unused = stackalloc T[bins];
        Knots(widths, tailBound, T.CreateChecked(MinBinWidth), knotsX, unused);
        Knots(heights, tailBound, T.CreateChecked(MinBinHeight), knotsY, unused);
        int k = FindBin(knotsX, x);
        var bin = new Bin<T>(knotsX, knotsY, derivatives, k);

        T theta = (x - bin.X) / bin.Width;
        T t = theta * (T.One - theta);
        T s = bin.Slope;
        T denominator = s + (bin.D0 + bin.D1 - s - s) * t;
        T numerator = bin.Height * (s * theta * theta + bin.D0 * t);
        T oneMinus = T.One - theta;
        T derivativeNumerator = s * s * (bin.D1 * theta * theta + (s + s) * t + bin.D0 * oneMinus * oneMinus);
        logAbsDet = T.Log(derivativeNumerator / (denominator * denominator));
        return bin.Y + numerator / denominator;
    }

    /// <summary>x = spline⁻¹(y): the root in [0, 1] of the bin's quadratic, in the cancellation-free form 2c / (-b - √(b² - 4ac)).</summary>
    public static T Inverse<T>(T y, ReadOnlySpan<T> widths, ReadOnlySpan<T> heights, ReadOnlySpan<T> derivatives, T tailBound)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bins = CheckShapes(widths, heights, derivatives);
        if (!(T.Abs(y) <= tailBound))
            return y;
        Span<T> knotsX = stackalloc T[bins + 1];
        Span<T> knotsY = stackalloc T[bins + 1];
        Span<T> unused = stackalloc T[bins];
        Knots(widths, tailBound, T.CreateChecked(MinBinWidth), knotsX, unused);
        Knots(heights, tailBound, T.CreateChecked(MinBinHeight), knotsY, unused);
        int k = FindBin(knotsY, y);
        var bin = new Bin<T>(knotsX, knotsY, derivatives, k);

        T s = bin.Slope;
        T offset = y - bin.Y;
        T curvature = bin.D0 + bin.D1 - s - s;
        T a = bin.Height * (s - bin.D0) + offset * curvature;
        T b = bin.Height * bin.D0 - offset * curvature;
        T c = -s * offset;
        T discriminant = T.Max(b * b - T.CreateChecked(4) * a * c, T.Zero);
        // b > 0 whenever c = 0 and -b - √disc < 0 otherwise, so this never divides by zero inside the bin.
        T theta = (c + c) / (-b - T.Sqrt(discriminant));
        return theta * bin.Width + bin.X;
    }

    /// <summary>
    /// Gradient of L with respect to x and to the unnormalised parameters, given dL/dy
    /// (<paramref name="dy"/>) and dL/d log|dy/dx| (<paramref name="dLogAbsDet"/>). Overwrites the
    /// three parameter-gradient spans; the fixed boundary derivatives get no gradient.
    /// </summary>
    public static T Backward<T>(T x, ReadOnlySpan<T> widths, ReadOnlySpan<T> heights, ReadOnlySpan<T> derivatives, T tailBound,
        T dy, T dLogAbsDet, Span<T> dWidths, Span<T> dHeights, Span<T> dDerivatives)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bins = CheckShapes(widths, heights, derivatives);
        if (dWidths.Length != bins || dHeights.Length != bins || dDerivatives.Length != bins - 1)
            throw new ArgumentException("Gradient spans must match the parameter spans.");
        dWidths.Clear();
        dHeights.Clear();
        dDerivatives.Clear();
        if (!(T.Abs(x) <= tailBound))
            return dy;

        Span<T> knotsX = stackalloc T[bins + 1];
        Span<T> knotsY = stackalloc T[bins + 1];
        Span<T> probabilitiesX = stackalloc T[bins];
        Span<T> probabilitiesY = stackalloc T[bins];
        T minWidth = T.CreateChecked(MinBinWidth), minHeight = T.CreateChecked(MinBinHeight);
        Knots(widths, tailBound, minWidth, knotsX, probabilitiesX);
        Knots(heights, tailBound, minHeight, knotsY, probabilitiesY);
        int k = FindBin(knotsX, x);
        var bin = new Bin<T>(knotsX, knotsY, derivatives, k);

        T w = bin.Width, h = bin.Height, s = bin.Slope, d0 = bin.D0, d1 = bin.D1;
        T two = T.CreateChecked(2);
        T theta = (x - bin.X) / w;
        T oneMinus = T.One - theta;
        T t = theta * oneMinus;
        T oneMinus2Theta = T.One - two * theta;
        T curvature = d0 + d1 - two * s;
        T den = s + curvature * t;
        T p = s * theta * theta + d0 * t;                                   // y = y_k + h p / den
        T q = d1 * theta * theta + two * s * t + d0 * oneMinus * oneMinus; // dy/dx = s² q / den²
        T den2 = den * den;

        // Partials of y and of L = log|dy/dx| = 2 log s + log q - 2 log den in (θ, s, h, d_k, d_k+1).
        T yTheta = h * s * q / den2;
        T yS = h * (theta * theta * den - p * (T.One - two * t)) / den2;
        T yH = p / den;
        T yD0 = h * t * (den - p) / den2;
        T yD1 = -h * p * t / den2;
        T lTheta = (two * d1 * theta + two * s * oneMinus2Theta - two * d0 * oneMinus) / q - two * curvature * oneMinus2Theta / den;
        T lS = two / s + two * t / q - two * (T.One - two * t) / den;
        T lD0 = oneMinus * oneMinus / q - two * t / den;
        T lD1 = theta * theta / q - two * t / den;

        T gTheta = dy * yTheta + dLogAbsDet * lTheta;
        T gS = dy * yS + dLogAbsDet * lS;
        // θ = (x - x_k)/w, s = h/w.
        T gX = gTheta / w;
        T gKnotX = -gTheta / w;
        T gWidth = -(gTheta * theta + gS * s) / w;
        T gKnotY = dy;
        T gHeight = dy * yH + gS / w;

        BinGradient(probabilitiesX, k, gKnotX, gWidth, tailBound, minWidth, dWidths);
        BinGradient(probabilitiesY, k, gKnotY, gHeight, tailBound, minHeight, dHeights);
        // Interior knot j (1..K-1) owns unnormalised derivative j - 1; d = m + softplus(u + c), d' = sigmoid(u + c).
        if (k > 0)
            dDerivatives[k - 1] = dy * yD0 + dLogAbsDet * lD0;
        if (k < bins - 1)
            dDerivatives[k] = dy * yD1 + dLogAbsDet * lD1;
        if (k > 0)
            dDerivatives[k - 1] *= Sigmoid(derivatives[k - 1] + T.CreateChecked(DerivativeShift));
        if (k < bins - 1)
            dDerivatives[k] *= Sigmoid(derivatives[k] + T.CreateChecked(DerivativeShift));
        return gX;
    }

    /// <summary>
    /// Knot positions from unnormalised sizes: knots[0] = -B, knots[K] = B exactly, knots[j] =
    /// -B + 2B Σ_{i&lt;j} (m + (1 - mK) p_i). Also returns the softmax p for the backward pass.
    /// </summary>
    private static void Knots<T>(ReadOnlySpan<T> unnormalised, T tailBound, T minimum, Span<T> knots, Span<T> probabilities)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bins = unnormalised.Length;
        // The softmax in SIMD (one vector for K = 8 floats): most of a spline's cost is these exps.
        TensorPrimitives.Subtract(unnormalised, TensorPrimitives.Max(unnormalised), probabilities);
        TensorPrimitives.Exp(probabilities, probabilities);
        T sum = TensorPrimitives.Sum<T>(probabilities);
        T scale = T.One - minimum * T.CreateChecked(bins);
        T span = tailBound + tailBound;
        T cumulative = T.Zero;
        knots[0] = -tailBound;
        TensorPrimitives.Divide(probabilities, sum, probabilities);
        for (int i = 0; i < bins - 1; i++)
        {
            cumulative += minimum + scale * probabilities[i];
            knots[i + 1] = span * cumulative - tailBound;
        }
        knots[bins] = tailBound;
    }

    /// <summary>
    /// Back through knots and softmax: size_j = 2B (m + (1 - mK) p_j) feeds knot_k (j &lt; k) and
    /// size_k; dL/du_j = (1 - mK) 2B p_j (g_j - Σ_i p_i g_i).
    /// </summary>
    private static void BinGradient<T>(ReadOnlySpan<T> probabilities, int k, T gKnot, T gSize, T tailBound, T minimum, Span<T> gradient)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int bins = probabilities.Length;
        T factor = (tailBound + tailBound) * (T.One - minimum * T.CreateChecked(bins));
        T below = T.Zero;
        for (int i = 0; i < k; i++)
            below += probabilities[i];
        T mean = gKnot * below + gSize * probabilities[k];
        for (int j = 0; j < bins; j++)
        {
            T g = j < k ? gKnot : j == k ? gSize : T.Zero;
            gradient[j] = factor * probabilities[j] * (g - mean);
        }
    }

    /// <summary>The bin k with knots[k] ≤ v &lt; knots[k+1], clamped to [0, K-1] (v = B falls in the last bin).</summary>
    private static int FindBin<T>(ReadOnlySpan<T> knots, T v) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int k = 0;
        for (int j = 1; j < knots.Length - 1; j++)
            if (knots[j] <= v)
                k = j;
        return k;
    }

    private static T Softplus<T>(T u) where T : unmanaged, IFloatingPointIeee754<T> =>
        u > T.Zero ? u + T.LogP1(T.Exp(-u)) : T.LogP1(T.Exp(u));

    private static T Sigmoid<T>(T u) where T : unmanaged, IFloatingPointIeee754<T> =>
        u >= T.Zero ? T.One / (T.One + T.Exp(-u)) : T.Exp(u) / (T.One + T.Exp(u));

    private static int CheckShapes<T>(ReadOnlySpan<T> widths, ReadOnlySpan<T> heights, ReadOnlySpan<T> derivatives)
    {
        int bins = widths.Length;
        if (bins < 1 || bins > MaxBins || heights.Length != bins || derivatives.Length != bins - 1)
            throw new ArgumentException($"A spline needs K widths, K heights and K-1 derivatives with 1 <= K <= {MaxBins}; got {widths.Length}, {heights.Length}, {derivatives.Length}.");
        return bins;
    }

    /// <summary>The bin k's left knot (X, Y), size (Width, Height), slope and knot derivatives.</summary>
    private readonly ref struct Bin<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public Bin(ReadOnlySpan<T> knotsX, ReadOnlySpan<T> knotsY, ReadOnlySpan<T> derivatives, int k)
        {
            int bins = knotsX.Length - 1;
            X = knotsX[k];
            Y = knotsY[k];
            Width = knotsX[k + 1] - X;
            Height = knotsY[k + 1] - Y;
            Slope = Height / Width;
            T minimum = T.CreateChecked(MinDerivative), shift = T.CreateChecked(DerivativeShift);
            D0 = k == 0 ? T.One : minimum + Softplus(derivatives[k - 1] + shift);
            D1 = k == bins - 1 ? T.One : minimum + Softplus(derivatives[k] + shift);
        }

        public T X { get; }
        public T Y { get; }
        public T Width { get; }
        public T Height { get; }
        public T Slope { get; }
        public T D0 { get; }
        public T D1 { get; }
    }
}
