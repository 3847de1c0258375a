using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Transforms.Leaves;

/// <summary>
/// Flow++'s logistic-mixture CDF leaf (Ho et al. 2019, "Flow++", section 3.1): y = σ⁻¹(Σ_k π_k σ((x - μ_k)/s_k)) · e^a + b,
/// exact log|dy/dx| = a + log C'(x) - log C(x) - log(1 - C(x)). K components; per feature the conditioner supplies,
/// grouped by kind, [a (1) | b (1) | logits (K) | means (K) | log-scales (K)]: kind-major, then feature, then component.
/// a is soft-clamped as the affine leaf's scale (c · tanh(raw / c)); log-scales are floored at -7 as in Flow++. The
/// inverse has no closed form: it bisects on an interval that brackets the root exactly, to a width of 1e-12 · max(1, |x|)
/// in double (<see cref="LogisticMixtureCdf.InverseRelativeTolerance"/>), so f⁻¹ is exact to float32 rounding. All-zero
/// parameters are the identity. The math runs in double on the host (CPU backend only; no CUDA kernel yet).
/// </summary>
public sealed class LogisticMixtureCdfLeaf : ICouplingLeaf
{
    public const int MaxComponents = 64;

    public LogisticMixtureCdfLeaf(int components, float scaleClamp = AffineLeaf.DefaultScaleClamp)
    {
        if (components < 1 || components > MaxComponents)
            throw new ArgumentOutOfRangeException(nameof(components), $"A logistic-mixture leaf needs 1..{MaxComponents} components, not {components}.");
        if (!(scaleClamp > 0f) || !float.IsFinite(scaleClamp))
            throw new ArgumentOutOfRangeException(nameof(scaleClamp), $"The scale clamp must be positive and finite, not {scaleClamp}.");
        Components = components;
        ScaleClamp = scaleClamp;
        ParametersPerFeatureByKind = [1, 1, components, components, components];
    }

    public int Components { get; }

    public float ScaleClamp { get; }

    /// <summary>[1, 1, K, K, K]: a, b, logits, means, log-scales.</summary>
    public IReadOnlyList<int> ParametersPerFeatureByKind { get; }

    public void Forward(FlowContext context, Tensor x, Tensor parameters, Tensor y, Tensor logDet)
    {
        int d = x.Cols, k = Components;
        var xs = x.Span();
        var ps = parameters.Span();
        var ys = y.Span();
        var ld = logDet.Span();
        Span<double> logPi = stackalloc double[k];
        for (int r = 0; r < x.Rows; r++)
        {
            var row = ps.Slice(r * parameters.Cols, parameters.Cols);
            double sum = 0;
            for (int j = 0; j < d; j++)
            {
                float a = row[j], b = row[d + j];
                LogisticMixtureCdf.LogWeights(Logits(row, d, j), logPi);
                var (u, logDerivative) = LogisticMixtureCdf.Evaluate(xs[r * d + j], logPi, Means(row, d, j), LogScales(row, d, j));
                double scale = LogisticMixtureCdf.SoftClamp(a, ScaleClamp);
                ys[r * d + j] = (float)(u * Math.Exp(scale) + b);
                sum += scale + logDerivative;
            }
            ld[r] += (float)sum;
        }
    }

    public void Inverse(FlowContext context, Tensor y, Tensor parameters, Tensor x)
    {
        int d = y.Cols, k = Components;
        var ys = y.Span();
        var ps = parameters.Span();
        var xs = x.Span();
        Span<double> logPi = stackalloc double[k];
        for (int r = 0; r < y.Rows; r++)
        {
            var row = ps.Slice(r * parameters.Cols, parameters.Cols);
            for (int j = 0; j < d; j++)
            {
                float a = row[j], b = row[d + j];
                LogisticMixtureCdf.LogWeights(Logits(row, d, j), logPi);
                double u = (ys[r * d + j] - b) * Math.Exp(-LogisticMixtureCdf.SoftClamp(a, ScaleClamp));
                xs[r * d + j] = (float)LogisticMixtureCdf.Invert(u, logPi, Means(row, d, j), LogScales(row, d, j));
            }
        }
    }

    public void Backward(FlowContext context, Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, Tensor dx, Tensor dParameters)
    {
        int d = x.Cols, k = Components;
        var xs = x.Span();
        var ps = parameters.Span();
        var gys = dy.Span();
        var gls = dLogDet.Span();
        var gxs = dx.Span();
        var gps = dParameters.Span();
        Span<double> gLogits = stackalloc double[k];
        Span<double> gMeans = stackalloc double[k];
        Span<double> gLogScales = stackalloc double[k];
        for (int r = 0; r < x.Rows; r++)
        {
            var row = ps.Slice(r * parameters.Cols, parameters.Cols);
            var gRow = gps.Slice(r * dParameters.Cols, dParameters.Cols);
            for (int j = 0; j < d; j++)
            {
                gxs[r * d + j] = (float)LogisticMixtureCdf.Backward(xs[r * d + j], row[j], ScaleClamp, Logits(row, d, j), Means(row, d, j), LogScales(row, d, j), gys[r * d + j], gls[r],
                    out double gA, out double gB, gLogits, gMeans, gLogScales);
                gRow[j] = (float)gA;
                gRow[d + j] = (float)gB;
                for (int i = 0; i < k; i++)
                {
                    gRow[2 * d + j * k + i] = (float)gLogits[i];
                    gRow[2 * d + d * k + j * k + i] = (float)gMeans[i];
                    gRow[2 * d + 2 * d * k + j * k + i] = (float)gLogScales[i];
                }
            }
        }
    }

    // Feature j's parameters in a row laid out [a(d) | b(d) | logits(d·K) | means(d·K) | log-scales(d·K)].
    private ReadOnlySpan<float> Logits(ReadOnlySpan<float> row, int d, int j) => row.Slice(2 * d + j * Components, Components);

    private ReadOnlySpan<float> Means(ReadOnlySpan<float> row, int d, int j) => row.Slice(2 * d + (d + j) * Components, Components);

    private ReadOnlySpan<float> LogScales(ReadOnlySpan<float> row, int d, int j) => row.Slice(2 * d + (2 * d + j) * Components, Components);
}
