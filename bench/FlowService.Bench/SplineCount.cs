using FlowService.Model.Compute.Cpu;

namespace FlowService.Bench;

/// <summary>
/// <c>count spline reference|kernel CALLS</c>: forward + backward of the NSF d=16 bench's spline leaf
/// (512 rows x 8 features, K = 8, B = 5) through <see cref="RationalQuadraticSplineKernel"/> or
/// through the scalar <see cref="RationalQuadraticSpline"/> element by element, as the CPU backend
/// ran it before the kernel, so both sides are counted in one binary.
/// </summary>
internal static class SplineCount
{
    private const int Rows = 512, Features = 8, Bins = 8;
    private const float Bound = 5f;

    public static Action Call(string implementation)
    {
        int width = Features * RationalQuadraticSpline.ParametersPerElement(Bins);
        var random = new Random(3);
        var x = Enumerable.Range(0, Rows * Features).Select(_ => 6f * (2 * random.NextSingle() - 1)).ToArray();
        var parameters = Enumerable.Range(0, Rows * width).Select(_ => 2f * (2 * random.NextSingle() - 1)).ToArray();
        var dy = Enumerable.Range(0, Rows * Features).Select(_ => random.NextSingle() - 0.5f).ToArray();
        var dLogDet = Enumerable.Repeat(1f / Rows, Rows).ToArray();
        var (y, logDet, dx, dParameters) = (new float[x.Length], new float[Rows], new float[x.Length], new float[parameters.Length]);
        return implementation switch
        {
            "kernel" => () =>
            {
                RationalQuadraticSplineKernel.Forward(x, parameters, Rows, Features, Bins, Bound, y, logDet);
                RationalQuadraticSplineKernel.Backward(x, parameters, dy, dLogDet, Rows, Features, Bins, Bound, dx, dParameters);
            },
            "reference" => () => Reference(x, parameters, dy, dLogDet, width, y, logDet, dx, dParameters),
            _ => throw new ArgumentException($"count spline: reference or kernel, not {implementation}"),
        };
    }

    private static void Reference(float[] x, float[] parameters, float[] dy, float[] dLogDet, int width, float[] y, float[] logDet, float[] dx, float[] dParameters)
    {
        for (int r = 0; r < Rows; r++)
        {
            var row = parameters.AsSpan(r * width, width);
            var gradient = dParameters.AsSpan(r * width, width);
            float sum = 0f;
            for (int i = 0; i < Features; i++)
            {
                int e = r * Features + i;
                Span<float> w = row.Slice(i * Bins, Bins), h = row.Slice((Features + i) * Bins, Bins), d = row.Slice(2 * Features * Bins + i * (Bins - 1), Bins - 1);
                y[e] = RationalQuadraticSpline.Forward<float>(x[e], w, h, d, Bound, out float l);
                sum += l;
                dx[e] = RationalQuadraticSpline.Backward<float>(x[e], w, h, d, Bound, dy[e], dLogDet[r],
                    gradient.Slice(i * Bins, Bins), gradient.Slice((Features + i) * Bins, Bins), gradient.Slice(2 * Features * Bins + i * (Bins - 1), Bins - 1));
            }
            logDet[r] += sum;
        }
    }
}
