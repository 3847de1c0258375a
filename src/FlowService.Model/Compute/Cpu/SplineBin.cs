using System.Runtime.CompilerServices;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The bin of one spline element that holds a value, found by walking the knots only as far as
/// needed: the knots come from the softmax numerators e (e_j / Σe = p_j) exactly as
/// <see cref="RationalQuadraticSpline"/>'s Knots builds them (knot_0 = -B, knot_K = B,
/// knot_j = 2B Σ_{i&lt;j} (m + (1 - mK) p_i) - B, the same float operations in the same order), and
/// the bin is the reference's FindBin: the last k ≤ K - 1 whose left knot is ≤ the value.
/// </summary>
internal readonly struct SplineBin
{
    private static readonly float MinWidth = (float)RationalQuadraticSpline.MinBinWidth;
    private static readonly float MinHeight = (float)RationalQuadraticSpline.MinBinHeight;

    private SplineBin(int index, float x, float width, float y, float height, float d0, float d1)
    {
        Index = index;
        X = x;
        Width = width;
        Y = y;
        Height = height;
        Slope = height / width;
        D0 = d0;
        D1 = d1;
    }

    public int Index { get; }
    public float X { get; }
    public float Width { get; }
    public float Y { get; }
    public float Height { get; }
    public float Slope { get; }
    public float D0 { get; }
    public float D1 { get; }

    /// <summary>The bin whose x-interval holds <paramref name="x"/>; sums are Σe of each axis, <paramref name="d"/> the K - 1 interior knot derivatives.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SplineBin ByX(float x, ReadOnlySpan<float> ew, float sumX, ReadOnlySpan<float> eh, float sumY, ReadOnlySpan<float> d, float bound)
    {
        int k = Search(ew, sumX, MinWidth, bound, x, out float left, out float right);
        Edges(eh, sumY, MinHeight, bound, k, out float bottom, out float top);
        return Create(k, left, right, bottom, top, d);
    }

    /// <summary>The bin whose y-interval holds <paramref name="y"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SplineBin ByY(float y, ReadOnlySpan<float> ew, float sumX, ReadOnlySpan<float> eh, float sumY, ReadOnlySpan<float> d, float bound)
    {
        int k = Search(eh, sumY, MinHeight, bound, y, out float bottom, out float top);
        Edges(ew, sumX, MinWidth, bound, k, out float left, out float right);
        return Create(k, left, right, bottom, top, d);
    }

    private static SplineBin Create(int k, float left, float right, float bottom, float top, ReadOnlySpan<float> d)
    {
        int bins = d.Length + 1;
        return new SplineBin(k, left, right - left, bottom, top - bottom, k == 0 ? 1f : d[k - 1], k == bins - 1 ? 1f : d[k]);
    }

    /// <summary>The last bin whose left knot is ≤ v, with its two knots.</summary>
    private static int Search(ReadOnlySpan<float> e, float sum, float minimum, float bound, float v, out float left, out float right)
    {
        int bins = e.Length;
        float scale = 1f - minimum * bins, span = bound + bound, cumulative = 0f;
        left = -bound;
        right = bound;
        for (int i = 0; i < bins - 1; i++)
        {
            cumulative += minimum + scale * (e[i] / sum);
            float knot = span * cumulative - bound;
            if (!(knot <= v))
            {
                right = knot;
                return i;
            }
            left = knot;
        }
        return bins - 1;
    }

    /// <summary>Knots k and k + 1.</summary>
    private static void Edges(ReadOnlySpan<float> e, float sum, float minimum, float bound, int k, out float low, out float high)
    {
        int bins = e.Length;
        float scale = 1f - minimum * bins, span = bound + bound, cumulative = 0f;
        low = -bound;
        for (int i = 0; i < k; i++)
        {
            cumulative += minimum + scale * (e[i] / sum);
            low = span * cumulative - bound;
        }
        high = k == bins - 1 ? bound : span * (cumulative + (minimum + scale * (e[k] / sum))) - bound;
    }
}
