namespace FlowService.Model.Compute.Cpu;

// The fast row kernels (RationalQuadraticSplineKernel); RationalQuadraticSpline stays the reference they are tested against.

public sealed partial class CpuBackend
{
    public void SplineForward(Tensor x, Tensor parameters, int bins, float tailBound, Tensor y, Tensor logDet)
    {
        CheckSpline(x, parameters, bins, tailBound);
        RequireSameShape(x, y);
        CheckSplinePerRow(logDet, x.Rows);
        RationalQuadraticSplineKernel.Forward(x.Span(), parameters.Span(), x.Rows, x.Cols, bins, tailBound, y.Span(), logDet.Span());
    }

    public void SplineInverse(Tensor y, Tensor parameters, int bins, float tailBound, Tensor x)
    {
        CheckSpline(y, parameters, bins, tailBound);
        RequireSameShape(x, y);
        RationalQuadraticSplineKernel.Inverse(y.Span(), parameters.Span(), y.Rows, y.Cols, bins, tailBound, x.Span());
    }

    public void SplineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, int bins, float tailBound, Tensor dx, Tensor dParameters)
    {
        CheckSpline(x, parameters, bins, tailBound);
        RequireSameShape(x, dy);
        RequireSameShape(x, dx);
        RequireSameShape(parameters, dParameters);
        CheckSplinePerRow(dLogDet, x.Rows);
        RationalQuadraticSplineKernel.Backward(x.Span(), parameters.Span(), dy.Span(), dLogDet.Span(), x.Rows, x.Cols, bins, tailBound, dx.Span(), dParameters.Span());
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
