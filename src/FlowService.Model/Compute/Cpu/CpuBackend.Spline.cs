namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    public void SplineForward(Tensor x, Tensor parameters, int bins, float tailBound, Tensor y, Tensor logDet)
    {
        CheckSpline(x, parameters, bins, tailBound);
        RequireSameShape(x, y);
        CheckSplinePerRow(logDet, x.Rows);
        int features = x.Cols;
        var xs = x.Span();
        var ys = y.Span();
        var ps = parameters.Span();
        var ld = logDet.Span();
        for (int r = 0; r < x.Rows; r++)
        {
            var row = ps.Slice(r * parameters.Cols, parameters.Cols);
            float sum = 0f;
            for (int i = 0; i < features; i++)
            {
                var element = new SplineElement(features, bins, i);
                ys[r * features + i] = RationalQuadraticSpline.Forward(xs[r * features + i],
                    element.Widths(row), element.Heights(row), element.Derivatives(row), tailBound, out float logAbsDet);
                sum += logAbsDet;
            }
            ld[r] += sum;
        }
    }

    public void SplineInverse(Tensor y, Tensor parameters, int bins, float tailBound, Tensor x)
    {
        CheckSpline(y, parameters, bins, tailBound);
        RequireSameShape(x, y);
        int features = y.Cols;
        var xs = x.Span();
        var ys = y.Span();
        var ps = parameters.Span();
        for (int r = 0; r < y.Rows; r++)
        {
            var row = ps.Slice(r * parameters.Cols, parameters.Cols);
            for (int i = 0; i < features; i++)
            {
                var element = new SplineElement(features, bins, i);
                xs[r * features + i] = RationalQuadraticSpline.Inverse(ys[r * features + i],
                    element.Widths(row), element.Heights(row), element.Derivatives(row), tailBound);
            }
        }
    }

    public void SplineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, int bins, float tailBound, Tensor dx, Tensor dParameters)
    {
        CheckSpline(x, parameters, bins, tailBound);
        RequireSameShape(x, dy);
        RequireSameShape(x, dx);
        RequireSameShape(parameters, dParameters);
        CheckSplinePerRow(dLogDet, x.Rows);
        int features = x.Cols;
        var xs = x.Span();
        var dys = dy.Span();
        var dxs = dx.Span();
        var ps = parameters.Span();
        var dps = dParameters.Span();
        var dld = dLogDet.Span();
        for (int r = 0; r < x.Rows; r++)
        {
            var row = ps.Slice(r * parameters.Cols, parameters.Cols);
            var gradientRow = dps.Slice(r * parameters.Cols, parameters.Cols);
            for (int i = 0; i < features; i++)
            {
                var element = new SplineElement(features, bins, i);
                int e = r * features + i;
                dxs[e] = RationalQuadraticSpline.Backward(xs[e], element.Widths(row), element.Heights(row), element.Derivatives(row), tailBound,
                    dys[e], dld[r], element.Widths(gradientRow), element.Heights(gradientRow), element.Derivatives(gradientRow));
            }
        }
    }

    /// <summary>Where one feature's parameters sit in a row: [widths D·K | heights D·K | derivatives D·(K-1)].</summary>
    private readonly struct SplineElement(int features, int bins, int feature)
    {
        public Span<float> Widths(Span<float> row) => row.Slice(feature * bins, bins);

        public Span<float> Heights(Span<float> row) => row.Slice((features + feature) * bins, bins);

        public Span<float> Derivatives(Span<float> row) => row.Slice(2 * features * bins + feature * (bins - 1), bins - 1);
    }

    private static void CheckSpline(Tensor values, Tensor parameters, int bins, float tailBound)
    {
        if (bins < 1 || bins > RationalQuadraticSpline.MaxBins)
            throw new ArgumentOutOfRangeException(nameof(bins), $"A spline needs 1..{RationalQuadraticSpline.MaxBins} bins, not {bins}.");
        if (!(tailBound > 0f) || !float.IsFinite(tailBound))
            throw new ArgumentOutOfRangeException(nameof(tailBound), $"The tail bound must be positive and finite, not {tailBound}.");
        if (parameters.Rows != values.Rows || parameters.Cols != values.Cols * RationalQuadraticSpline.ParametersPerElement(bins))
            throw new ArgumentException($"Spline parameters for {values.Rows}x{values.Cols} with {bins} bins must be {values.Rows}x{values.Cols * RationalQuadraticSpline.ParametersPerElement(bins)}, not {parameters.Rows}x{parameters.Cols}.");
    }

    private static void CheckSplinePerRow(Tensor column, int rows)
    {
        if (column.Rows != rows || column.Cols != 1)
            throw new ArgumentException($"Expected a {rows}x1 per-row tensor, not {column.Rows}x{column.Cols}.");
    }
}
