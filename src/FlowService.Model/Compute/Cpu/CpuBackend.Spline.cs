namespace FlowService.Model.Compute.Cpu;

// The fast row kernels (RationalQuadraticSplineKernel); RationalQuadraticSpline stays the reference they are tested against.

public sealed partial class CpuBackend
{
    /// <summary>The row kernels prepare a shared parameter row once per call.</summary>
    public bool SharesSplineParameters => !RepeatsSplineParameters;

    /// <summary>Tests only: answer as a backend without shared spline parameters (the CUDA one) does, so that transforms take
    /// their repeated-row path on the CPU too.</summary>
    internal bool RepeatsSplineParameters { get; init; }

    public void SplineForward(Tensor x, Tensor parameters, int bins, float tailBound, Tensor y, Tensor logDet)
    {
        bool shared = CheckSpline(x, parameters, bins, tailBound);
        RequireSameShape(x, y);
        CheckSplinePerRow(logDet, x.Rows);
        RationalQuadraticSplineKernel.Forward(x.Span(), parameters.Span(), x.Rows, x.Cols, bins, tailBound, y.Span(), logDet.Span(), shared);
    }

    public void SplineInverse(Tensor y, Tensor parameters, int bins, float tailBound, Tensor x)
    {
        bool shared = CheckSpline(y, parameters, bins, tailBound);
        RequireSameShape(x, y);
        RationalQuadraticSplineKernel.Inverse(y.Span(), parameters.Span(), y.Rows, y.Cols, bins, tailBound, x.Span(), shared);
    }

    public void SplineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, int bins, float tailBound, Tensor dx, Tensor dParameters)
    {
        bool shared = CheckSpline(x, parameters, bins, tailBound);
        RequireSameShape(x, dy);
        RequireSameShape(x, dx);
        if (dParameters.Rows != x.Rows || dParameters.Cols != parameters.Cols)
            throw new ArgumentException($"Spline parameter gradients for {x.Rows} rows must be {x.Rows}x{parameters.Cols}, not {dParameters.Rows}x{dParameters.Cols}.");
        CheckSplinePerRow(dLogDet, x.Rows);
        RationalQuadraticSplineKernel.Backward(x.Span(), parameters.Span(), dy.Span(), dLogDet.Span(), x.Rows, x.Cols, bins, tailBound, dx.Span(), dParameters.Span(), shared);
    }

    /// <summary>Checks the spline's arguments; true when one row of parameters serves every row of <paramref name="values"/>.</summary>
    private static bool CheckSpline(Tensor values, Tensor parameters, int bins, float tailBound)
    {
        if (bins < 1 || bins > RationalQuadraticSpline.MaxBins)
            throw new ArgumentOutOfRangeException(nameof(bins), $"A spline needs 1..{RationalQuadraticSpline.MaxBins} bins, not {bins}.");
        if (!(tailBound > 0f) || !float.IsFinite(tailBound))
            throw new ArgumentOutOfRangeException(nameof(tailBound), $"The tail bound must be positive and finite, not {tailBound}.");
        int width = values.Cols * RationalQuadraticSpline.ParametersPerElement(bins);
        if ((parameters.Rows != values.Rows && parameters.Rows != 1) || parameters.Cols != width)
            throw new ArgumentException($"Spline parameters for {values.Rows}x{values.Cols} with {bins} bins must be {values.Rows}x{width} (or 1x{width}, shared), not {parameters.Rows}x{parameters.Cols}.");
        return parameters.Rows == 1 && values.Rows != 1;
    }

    private static void CheckSplinePerRow(Tensor column, int rows)
    {
        if (column.Rows != rows || column.Cols != 1)
            throw new ArgumentException($"Expected a {rows}x1 per-row tensor, not {column.Rows}x{column.Cols}.");
    }
}
