using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// A trainable invertible linear map that starts as the whitening of its input: z = C⁻¹ x with
/// Σ = C Cᵀ the (ridge-regularised) covariance of the rows it first sees, so that a flow whose
/// chain starts with ActNorm → WhiteningLinear is, before any training step, exactly the
/// maximum-likelihood full-covariance Gaussian of the data (the density every flow must beat).
/// </summary>
/// <remarks>
/// It is <see cref="LuLinear"/> with the identity permutation: C⁻¹ is lower triangular, so
/// W = L · diag(exp(logScale)) with L = C⁻¹ diag(C⁻¹)⁻¹ unit lower triangular, U = 0, logScale =
/// log diag(C⁻¹) is an exact LU factorisation of it. Parameter names are LuLinear's
/// (<c>lower</c>, <c>upper</c>, <c>logScale</c>); before <see cref="InitializeFromData"/> it is the identity.
/// </remarks>
public sealed class WhiteningLinear : ITransform, IDataInitialized
{
    /// <summary>Added to the covariance's diagonal (inputs are standardized, so this is relative): keeps C well conditioned for nearly collinear columns.</summary>
    public const double Ridge = 1e-4;

    private readonly LuLinear _linear;

    public WhiteningLinear(int features)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        _linear = new LuLinear(Enumerable.Range(0, features).ToArray());
    }

    public int Features => _linear.Features;

    public void DeclareParameters(ParameterScope scope) => _linear.DeclareParameters(scope);

    /// <summary>The identity until the data arrive.</summary>
    public void InitializeParameters(ParameterInitializer initializer)
    {
        initializer.Constant(_linear.Lower, 0f);
        initializer.Constant(_linear.Upper, 0f);
        initializer.Constant(_linear.LogScale, 0f);
    }

    public void InitializeFromData(ReadOnlySpan<float> inputs, Span<float> parameters)
    {
        int d = Features, rows = inputs.Length / d;
        var cholesky = CovarianceCholesky(inputs, rows, d);
        var inverse = LowerTriangularInverse(cholesky, d);
        ParameterSlot lower = _linear.Lower, upper = _linear.Upper, logScale = _linear.LogScale;
        parameters.Slice(upper.Offset, upper.Length).Clear();
        parameters.Slice(lower.Offset, lower.Length).Clear();
        for (int i = 0; i < d; i++)
        {
            parameters[logScale.Offset + i] = (float)Math.Log(inverse[i * d + i]);
            for (int j = 0; j < i; j++)
                parameters[lower.Offset + i * d + j] = (float)(inverse[i * d + j] / inverse[j * d + j]);
        }
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet) => _linear.Forward(context, x, y, logDet);

    public void Inverse(FlowContext context, Tensor y, Tensor x) => _linear.Inverse(context, y, x);

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx) => _linear.Backward(context, dy, dLogDet, dx);

    /// <summary>Lower Cholesky factor (row-major d x d, double) of the rows' covariance about their mean, plus <see cref="Ridge"/> on the diagonal.</summary>
    public static double[] CovarianceCholesky(ReadOnlySpan<float> rowsData, int rows, int d)
    {
        var mean = new double[d];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < d; j++)
                mean[j] += rowsData[r * d + j];
        for (int j = 0; j < d; j++)
            mean[j] /= Math.Max(1, rows);
        var covariance = new double[d * d];
        var centered = new double[d];
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < d; j++)
                centered[j] = rowsData[r * d + j] - mean[j];
            for (int i = 0; i < d; i++)
                for (int j = 0; j <= i; j++)
                    covariance[i * d + j] += centered[i] * centered[j];
        }
        for (int i = 0; i < d; i++)
        {
            for (int j = 0; j <= i; j++)
                covariance[i * d + j] /= Math.Max(1, rows);
            covariance[i * d + i] += Ridge * Math.Max(covariance[i * d + i], 1e-12) + 1e-12;
        }
        return Cholesky(covariance, d);
    }

    /// <summary>Cholesky of the lower triangle of a symmetric positive-definite matrix (row-major).</summary>
    public static double[] Cholesky(double[] symmetric, int d)
    {
        var l = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j <= i; j++)
            {
                double sum = symmetric[i * d + j];
                for (int k = 0; k < j; k++)
                    sum -= l[i * d + k] * l[j * d + k];
                if (i == j)
                {
                    if (!(sum > 0))
                        throw new ArgumentException($"The covariance is not positive definite (pivot {i} is {sum}).");
                    l[i * d + i] = Math.Sqrt(sum);
                }
                else
                    l[i * d + j] = sum / l[j * d + j];
            }
        return l;
    }

    /// <summary>The inverse of a lower-triangular matrix with a positive diagonal, by forward substitution.</summary>
    public static double[] LowerTriangularInverse(double[] l, int d)
    {
        var inverse = new double[d * d];
        for (int column = 0; column < d; column++)
        {
            inverse[column * d + column] = 1 / l[column * d + column];
            for (int i = column + 1; i < d; i++)
            {
                double sum = 0;
                for (int k = column; k < i; k++)
                    sum -= l[i * d + k] * inverse[k * d + column];
                inverse[i * d + column] = sum / l[i * d + i];
            }
        }
        return inverse;
    }
}
