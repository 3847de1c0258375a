using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Compute.Cuda;

public sealed unsafe partial class CudaBackend
{
    private static readonly float SplineDerivativeShift = (float)RationalQuadraticSpline.DerivativeShift;

    /// <remarks>Each element adds its log-derivative to its row with an atomic add, so the row sums may differ from the CPU's in the last bit.</remarks>
    public void SplineForward(Tensor x, Tensor parameters, int bins, float tailBound, Tensor y, Tensor logDet)
    {
        CheckSpline(x, parameters, bins, tailBound);
        RequireSameShape(x, y);
        RequirePerRow(logDet, x.Rows);
        ulong px = Pointer(x), pp = Pointer(parameters), py = Pointer(y), pl = Pointer(logDet);
        long rows = x.Rows;
        int features = x.Cols, pcols = parameters.Cols;
        float bound = tailBound, shift = SplineDerivativeShift;
        void** args = stackalloc void*[] { &px, &pp, &rows, &features, &pcols, &bound, &shift, &py, &pl };
        Launch(Kernel(SplineKernels.Source(bins), "spline_forward"), x.Length, args);
    }

    public void SplineInverse(Tensor y, Tensor parameters, int bins, float tailBound, Tensor x)
    {
        CheckSpline(y, parameters, bins, tailBound);
        RequireSameShape(x, y);
        ulong py = Pointer(y), pp = Pointer(parameters), px = Pointer(x);
        long rows = y.Rows;
        int features = y.Cols, pcols = parameters.Cols;
        float bound = tailBound, shift = SplineDerivativeShift;
        void** args = stackalloc void*[] { &py, &pp, &rows, &features, &pcols, &bound, &shift, &px };
        Launch(Kernel(SplineKernels.Source(bins), "spline_inverse"), y.Length, args);
    }

    public void SplineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, int bins, float tailBound, Tensor dx, Tensor dParameters)
    {
        CheckSpline(x, parameters, bins, tailBound);
        RequireSameShape(x, dy);
        RequireSameShape(x, dx);
        RequireSameShape(parameters, dParameters);
        RequirePerRow(dLogDet, x.Rows);
        ulong px = Pointer(x), pp = Pointer(parameters), pdy = Pointer(dy), pdl = Pointer(dLogDet), pdx = Pointer(dx), pdp = Pointer(dParameters);
        long rows = x.Rows;
        int features = x.Cols, pcols = parameters.Cols;
        float bound = tailBound, shift = SplineDerivativeShift;
        void** args = stackalloc void*[] { &px, &pp, &pdy, &pdl, &rows, &features, &pcols, &bound, &shift, &pdx, &pdp };
        Launch(Kernel(SplineKernels.Source(bins), "spline_backward"), x.Length, args);
    }

    private static void CheckSpline(Tensor values, Tensor parameters, int bins, float tailBound)
    {
        if (bins < 1 || bins > RationalQuadraticSpline.MaxBins)
            throw new ArgumentOutOfRangeException(nameof(bins), $"A spline needs 1..{RationalQuadraticSpline.MaxBins} bins, not {bins}.");
        if (!(tailBound > 0f) || !float.IsFinite(tailBound))
            throw new ArgumentOutOfRangeException(nameof(tailBound), $"The tail bound must be positive and finite, not {tailBound}.");
        int perElement = RationalQuadraticSpline.ParametersPerElement(bins);
        if (parameters.Rows != values.Rows || parameters.Cols != values.Cols * perElement)
            throw new ArgumentException($"Spline parameters for {values.Rows}x{values.Cols} with {bins} bins must be {values.Rows}x{values.Cols * perElement}, not {parameters.Rows}x{parameters.Cols}.");
    }

    internal static void RequirePerRow(Tensor column, int rows)
    {
        if (column.Rows != rows || column.Cols != 1)
            throw new ArgumentException($"Expected a {rows}x1 per-row tensor, not {column.Rows}x{column.Cols}.");
    }
}
