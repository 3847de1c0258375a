namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    // The leaf works a block of rows at a time: the block's raw scales are copied into one contiguous
    // scratch run so SoftClampKernel's vector loop runs over all of them (a row has only d of them,
    // 4 for RealNVP d=8), then the cheap per-element arithmetic runs row by row as before.
    private const int AffineBlockFloats = 2048;

    [ThreadStatic] private static float[]? t_affineScales;
    [ThreadStatic] private static float[]? t_affineFactors;

    public void AffineForward(Tensor x, Tensor parameters, float scaleClamp, Tensor y, Tensor logDet)
    {
        CheckAffine(x, parameters, scaleClamp);
        RequireSameShape(x, y);
        int d = x.Cols;
        var ld = logDet.Span();
        if (logDet.Rows != x.Rows || logDet.Cols != 1)
            throw new ArgumentException($"logDet must be {x.Rows}x1, not {logDet.Rows}x{logDet.Cols}.");
        int block = AffineBlockRows(d);
        var (scales, factors) = AffineScratch(block * d);
        for (int r0 = 0; r0 < x.Rows; r0 += block)
        {
            int rows = Math.Min(block, x.Rows - r0);
            SoftClampBlock(parameters, r0, rows, d, scaleClamp, 1f, scales, factors);
            for (int r = 0; r < rows; r++)
            {
                var xr = x.Row(r0 + r);
                var yr = y.Row(r0 + r);
                var pr = parameters.Row(r0 + r);
                var sr = scales.AsSpan(r * d, d);
                var er = factors.AsSpan(r * d, d);
                float sum = 0f;
                for (int i = 0; i < d; i++)
                {
                    yr[i] = xr[i] * er[i] + pr[i];
                    sum += sr[i];
                }
                ld[r0 + r] += sum;
            }
        }
    }

    public void AffineInverse(Tensor y, Tensor parameters, float scaleClamp, Tensor x)
    {
        CheckAffine(y, parameters, scaleClamp);
        RequireSameShape(x, y);
        int d = y.Cols;
        int block = AffineBlockRows(d);
        var (scales, factors) = AffineScratch(block * d);
        for (int r0 = 0; r0 < y.Rows; r0 += block)
        {
            int rows = Math.Min(block, y.Rows - r0);
            SoftClampBlock(parameters, r0, rows, d, scaleClamp, -1f, scales, factors);
            for (int r = 0; r < rows; r++)
            {
                var xr = x.Row(r0 + r);
                var yr = y.Row(r0 + r);
                var pr = parameters.Row(r0 + r);
                var er = factors.AsSpan(r * d, d);
                for (int i = 0; i < d; i++)
                    xr[i] = (yr[i] - pr[i]) * er[i];
            }
        }
    }

    public void AffineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, float scaleClamp, Tensor dx, Tensor dParameters)
    {
        CheckAffine(x, parameters, scaleClamp);
        RequireSameShape(x, dy);
        RequireSameShape(x, dx);
        RequireSameShape(parameters, dParameters);
        int d = x.Cols;
        var dld = dLogDet.Span();
        float inverseClamp = 1f / scaleClamp;
        int block = AffineBlockRows(d);
        var (scales, factors) = AffineScratch(block * d);
        for (int r0 = 0; r0 < x.Rows; r0 += block)
        {
            int rows = Math.Min(block, x.Rows - r0);
            SoftClampBlock(parameters, r0, rows, d, scaleClamp, 1f, scales, factors);
            for (int r = 0; r < rows; r++)
            {
                var xr = x.Row(r0 + r);
                var gy = dy.Row(r0 + r);
                var gx = dx.Row(r0 + r);
                var gp = dParameters.Row(r0 + r);
                var sr = scales.AsSpan(r * d, d);
                var er = factors.AsSpan(r * d, d);
                float dLogDetRow = dld[r0 + r];
                for (int i = 0; i < d; i++)
                {
                    float t = sr[i] * inverseClamp;    // tanh(raw / c)
                    float scale = er[i];
                    float g = gy[i];
                    gx[i] = g * scale;
                    gp[i] = g;
                    // ds/draw = 1 - tanh²; y depends on s through x·exp(s), logDet through s itself.
                    gp[d + i] = (g * xr[i] * scale + dLogDetRow) * (1f - t * t);
                }
            }
        }
    }

    private static int AffineBlockRows(int d) => Math.Max(1, AffineBlockFloats / Math.Max(d, 1));

    /// <summary>This thread's two scratch runs (one backend serves every shard's thread at once).</summary>
    private static (float[] Scales, float[] Factors) AffineScratch(int length)
    {
        if (t_affineScales is null || t_affineScales.Length < length)
        {
            t_affineScales = new float[Math.Max(length, AffineBlockFloats)];
            t_affineFactors = new float[t_affineScales.Length];
        }
        return (t_affineScales, t_affineFactors!);
    }

    /// <summary>scales = c · tanh(raw / c) and factors = exp(sign · scales) for rows [r0, r0 + rows), row-major d per row.</summary>
    private static void SoftClampBlock(Tensor parameters, int r0, int rows, int d, float scaleClamp, float sign, float[] scales, float[] factors)
    {
        for (int r = 0; r < rows; r++)
            parameters.Row(r0 + r).Slice(d, d).CopyTo(scales.AsSpan(r * d, d));
        var run = scales.AsSpan(0, rows * d);
        SoftClampKernel.Apply(run, scaleClamp, sign, run, factors);
    }

    private static void CheckAffine(Tensor values, Tensor parameters, float scaleClamp)
    {
        if (!(scaleClamp > 0f) || !float.IsFinite(scaleClamp))
            throw new ArgumentOutOfRangeException(nameof(scaleClamp), $"The scale clamp must be positive and finite, not {scaleClamp}.");
        if (parameters.Rows != values.Rows || parameters.Cols != 2 * values.Cols)
            throw new ArgumentException($"Affine parameters for {values.Rows}x{values.Cols} must be {values.Rows}x{2 * values.Cols}, not {parameters.Rows}x{parameters.Cols}.");
    }
}
