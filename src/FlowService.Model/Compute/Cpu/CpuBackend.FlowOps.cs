using System.Buffers;
using System.Numerics.Tensors;

namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    private static readonly float HalfLogTwoPi = (float)(0.5 * Math.Log(2 * Math.PI));

    public void StandardNormalLogDensity(Tensor z, Tensor logProb)
    {
        RequirePerRow(logProb, z.Rows);
        var output = logProb.Span();
        float constant = -z.Cols * HalfLogTwoPi;
        for (int r = 0; r < z.Rows; r++)
            output[r] = constant - 0.5f * TensorPrimitives.SumOfSquares<float>(z.Row(r));
    }

    public void Scale(Tensor source, float alpha, Tensor destination)
    {
        RequireSameShape(source, destination);
        TensorPrimitives.Multiply(source.Span(), alpha, destination.Span());
    }

    public void AddScaled(Tensor source, float alpha, Tensor destination)
    {
        RequireSameShape(source, destination);
        TensorPrimitives.FusedMultiplyAdd(source.Span(), alpha, destination.Span(), destination.Span());
    }

    public void ColumnAffineForward(Tensor x, Tensor shift, Tensor logScale, Tensor y, Tensor logDet)
    {
        RequireSameShape(x, y);
        RequireColumnVector(shift, x.Cols);
        RequireColumnVector(logScale, x.Cols);
        RequirePerRow(logDet, x.Rows);
        var factors = Exp(logScale);
        var b = shift.Span();
        for (int r = 0; r < x.Rows; r++)
        {
            var yr = y.Row(r);
            TensorPrimitives.Add(x.Row(r), b, yr);
            TensorPrimitives.Multiply(yr, factors, yr);
        }
        AddSumToRows(logScale, logDet);
    }

    public void ColumnAffineInverse(Tensor y, Tensor shift, Tensor logScale, Tensor x)
    {
        RequireSameShape(x, y);
        RequireColumnVector(shift, y.Cols);
        RequireColumnVector(logScale, y.Cols);
        var inverse = new float[y.Cols];
        TensorPrimitives.Negate(logScale.Span(), inverse);
        TensorPrimitives.Exp(inverse, inverse);
        var b = shift.Span();
        for (int r = 0; r < y.Rows; r++)
        {
            var xr = x.Row(r);
            TensorPrimitives.Multiply(y.Row(r), inverse, xr);
            TensorPrimitives.Subtract(xr, b, xr);
        }
    }

    public void ColumnAffineBackward(Tensor x, Tensor shift, Tensor logScale, Tensor dy, Tensor dLogDet, Tensor dx, Tensor? dShift, Tensor? dLogScale)
    {
        RequireSameShape(x, dy);
        RequireSameShape(x, dx);
        RequireColumnVector(shift, x.Cols);
        RequireColumnVector(logScale, x.Cols);
        RequirePerRow(dLogDet, x.Rows);
        var factors = Exp(logScale);
        var b = shift.Span();
        var ds = dShift is null ? Span<float>.Empty : dShift.Span();
        var dl = dLogScale is null ? Span<float>.Empty : dLogScale.Span();
        var g = dLogDet.Span();
        for (int r = 0; r < x.Rows; r++)
        {
            var xr = x.Row(r);
            var dyr = dy.Row(r);
            var dxr = dx.Row(r);
            for (int j = 0; j < x.Cols; j++)
            {
                float dxj = dyr[j] * factors[j];
                dxr[j] = dxj;
                if (dShift is not null)
                    ds[j] += dxj;
                if (dLogScale is not null)
                    dl[j] += dxj * (xr[j] + b[j]) + g[r];
            }
        }
    }

    public void AddSumToRows(Tensor vector, Tensor logDet)
    {
        if (vector.Rows != 1)
            throw new ArgumentException($"{vector} must be one row.");
        if (logDet.Cols != 1)
            throw new ArgumentException($"{logDet} must be one column.");
        TensorPrimitives.Add(logDet.Span(), TensorPrimitives.Sum<float>(vector.Span()), logDet.Span());
    }

    public void AccumulateSumOfRows(Tensor dLogDet, Tensor vectorGradient)
    {
        if (dLogDet.Cols != 1 || vectorGradient.Rows != 1)
            throw new ArgumentException($"Expected rows x 1 and 1 x D, not {dLogDet} and {vectorGradient}.");
        TensorPrimitives.Add(vectorGradient.Span(), TensorPrimitives.Sum<float>(dLogDet.Span()), vectorGradient.Span());
    }

    public void LuCompose(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor weight)
    {
        int d = CheckLu(lower, upper, logScale, permutation, weight);
        var product = ArrayPool<double>.Shared.Rent(d * d);
        try
        {
            LuFactorKernel.Product(lower.Span(), upper.Span(), logScale.Span(), d, product);
            var w = weight.Span();
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    w[i * d + j] = (float)product[permutation[i] * d + j];
        }
        finally
        {
            ArrayPool<double>.Shared.Return(product);
        }
    }

    public void LuInverse(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor inverse)
    {
        int d = CheckLu(lower, upper, logScale, permutation, inverse);
        var l = lower.Span();
        var u = upper.Span();
        var s = logScale.Span();
        var result = inverse.Span();
        // W⁻¹ = M⁻¹ · L⁻¹ · Pᵀ with M = U + diag(exp(logScale)); column j of Pᵀ is e_{permutation[j]}.
        var column = new double[d];
        for (int j = 0; j < d; j++)
        {
            Array.Clear(column);
            column[permutation[j]] = 1;
            for (int i = 0; i < d; i++)        // forward substitution, unit diagonal
                for (int k = 0; k < i; k++)
                    column[i] -= l[i * d + k] * column[k];
            for (int i = d - 1; i >= 0; i--)   // back substitution
            {
                for (int k = i + 1; k < d; k++)
                    column[i] -= u[i * d + k] * column[k];
                column[i] /= Math.Exp(s[i]);
            }
            for (int i = 0; i < d; i++)
                result[i * d + j] = (float)column[i];
        }
    }

    public void LuComposeBackward(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor dWeight, Tensor dLower, Tensor dUpper, Tensor dLogScale)
    {
        int d = CheckLu(lower, upper, logScale, permutation, dWeight);
        RequireSameShape(lower, dLower);
        RequireSameShape(upper, dUpper);
        RequireSameShape(logScale, dLogScale);
        // A = L·M, W = P·A: dA[permutation[i], :] = dW[i, :]; then dL = dA·Mᵀ (strict lower), dM = Lᵀ·dA (upper).
        var dA = ArrayPool<double>.Shared.Rent(d * d);
        try
        {
            var dw = dWeight.Span();
            for (int i = 0; i < d; i++)
                for (int j = 0; j < d; j++)
                    dA[permutation[i] * d + j] = dw[i * d + j];
            LuFactorKernel.ProductBackward(lower.Span(), upper.Span(), logScale.Span(), d, dA.AsSpan(0, d * d), dLower.Span(), dUpper.Span(), dLogScale.Span());
        }
        finally
        {
            ArrayPool<double>.Shared.Return(dA);
        }
    }

    private static int CheckLu(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor square)
    {
        int d = logScale.Cols;
        if (logScale.Rows != 1 || lower.Rows != d || lower.Cols != d || !lower.SameShape(upper) || square.Rows != d || square.Cols != d || permutation.Length != d)
            throw new ArgumentException($"LU factors must be {d}x{d} with a 1x{d} log-scale and a permutation of {d}.");
        return d;
    }

    private static float[] Exp(Tensor logScale)
    {
        var factors = new float[logScale.Cols];
        TensorPrimitives.Exp(logScale.Span(), factors);
        return factors;
    }

    private static void RequireColumnVector(Tensor vector, int cols)
    {
        if (vector.Rows != 1 || vector.Cols != cols)
            throw new ArgumentException($"{vector} must be 1x{cols}.");
    }

    private static void RequirePerRow(Tensor perRow, int rows)
    {
        if (perRow.Rows != rows || perRow.Cols != 1)
            throw new ArgumentException($"{perRow} must be {rows}x1.");
    }
}
