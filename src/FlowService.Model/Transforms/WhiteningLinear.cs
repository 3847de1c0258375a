using FlowService.Model.Compute;
using FlowService.Model.Distributions;
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
        int d = Features;
        var cholesky = FullCovarianceGaussian.Fit(inputs, d, Ridge).Cholesky.ToArray();
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
