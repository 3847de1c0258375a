namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    public void AffineForward(Tensor x, Tensor parameters, float scaleClamp, Tensor y, Tensor logDet)
    {
        CheckAffine(x, parameters, scaleClamp);
        RequireSameShape(x, y);
        int d = x.Cols;
        var ld = logDet.Span();
        if (logDet.Rows != x.Rows || logDet.Cols != 1)
            throw new ArgumentException($"logDet must be {x.Rows}x1, not {logDet.Rows}x{logDet.Cols}.");
        for (int r = 0; r < x.Rows; r++)
        {
            var xr = x.Row(r);
            var yr = y.Row(r);
            var pr = parameters.Row(r);
            float sum = 0f;
            for (int i = 0; i < d; i++)
            {
                float s = scaleClamp * MathF.Tanh(pr[d + i] / scaleClamp);
                yr[i] = xr[i] * MathF.Exp(s) + pr[i];
                sum += s;
            }
            ld[r] += sum;
        }
    }

    public void AffineInverse(Tensor y, Tensor parameters, float scaleClamp, Tensor x)
    {
        CheckAffine(y, parameters, scaleClamp);
        RequireSameShape(x, y);
        int d = y.Cols;
        for (int r = 0; r < y.Rows; r++)
        {
            var xr = x.Row(r);
            var yr = y.Row(r);
            var pr = parameters.Row(r);
            for (int i = 0; i < d; i++)
                xr[i] = (yr[i] - pr[i]) * MathF.Exp(-scaleClamp * MathF.Tanh(pr[d + i] / scaleClamp));
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
        for (int r = 0; r < x.Rows; r++)
        {
            var xr = x.Row(r);
            var gy = dy.Row(r);
            var gx = dx.Row(r);
            var pr = parameters.Row(r);
            var gp = dParameters.Row(r);
            for (int i = 0; i < d; i++)
            {
                float t = MathF.Tanh(pr[d + i] / scaleClamp);
                float scale = MathF.Exp(scaleClamp * t);
                float g = gy[i];
                gx[i] = g * scale;
                gp[i] = g;
                // ds/draw = 1 - tanh²; y depends on s through x·exp(s), logDet through s itself.
                gp[d + i] = (g * xr[i] * scale + dld[r]) * (1f - t * t);
            }
        }
    }

    private static void CheckAffine(Tensor values, Tensor parameters, float scaleClamp)
    {
        if (!(scaleClamp > 0f) || !float.IsFinite(scaleClamp))
            throw new ArgumentOutOfRangeException(nameof(scaleClamp), $"The scale clamp must be positive and finite, not {scaleClamp}.");
        if (parameters.Rows != values.Rows || parameters.Cols != 2 * values.Cols)
            throw new ArgumentException($"Affine parameters for {values.Rows}x{values.Cols} must be {values.Rows}x{2 * values.Cols}, not {parameters.Rows}x{parameters.Cols}.");
    }
}
