namespace FlowService.Model.Compute;

public partial interface IBackend
{
    // What the flow itself needs around its transforms: the standard-normal base density, scaled
    // adds (losses, temperature, additive leaves), the per-column affine map of ActNorm and the
    // fixed standardization, and the LU-parameterised linear map of Glow.

    /// <summary>logProb[r] = -½ Σ_j z[r, j]² - (D/2) log 2π (overwrites; logProb is rows x 1).</summary>
    void StandardNormalLogDensity(Tensor z, Tensor logProb);

    /// <summary>destination = alpha · source (same shape; in place allowed).</summary>
    void Scale(Tensor source, float alpha, Tensor destination);

    /// <summary>destination += alpha · source (same shape).</summary>
    void AddScaled(Tensor source, float alpha, Tensor destination);

    /// <summary>
    /// y = (x + shift) · exp(logScale) per column (shift, logScale 1 x D); <b>adds</b> Σ_j logScale_j
    /// to every row of <paramref name="logDet"/>. y may alias x.
    /// </summary>
    void ColumnAffineForward(Tensor x, Tensor shift, Tensor logScale, Tensor y, Tensor logDet);

    /// <summary>x = y · exp(-logScale) - shift. x may alias y.</summary>
    void ColumnAffineInverse(Tensor y, Tensor shift, Tensor logScale, Tensor x);

    /// <summary>
    /// At input x: overwrites dx = dy · exp(logScale); when given, <b>accumulates</b>
    /// dShift += Σ_r dy · exp(logScale) and dLogScale += Σ_r (dy · y + dLogDet_r).
    /// </summary>
    void ColumnAffineBackward(Tensor x, Tensor shift, Tensor logScale, Tensor dy, Tensor dLogDet, Tensor dx, Tensor? dShift, Tensor? dLogScale);

    /// <summary>
    /// weight (D x D) = P · L · (U + diag(exp(logScale))) with L unit lower triangular from the strict
    /// lower part of <paramref name="lower"/>, U the strict upper part of <paramref name="upper"/>, and
    /// P the permutation matrix with P[i, permutation[i]] = 1.
    /// </summary>
    void LuCompose(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor weight);

    /// <summary>inverse (D x D) = W⁻¹ of <see cref="LuCompose"/>'s W, by triangular solves.</summary>
    void LuInverse(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor inverse);

    /// <summary>
    /// Given dL/dW, <b>accumulates</b> dL/dlower (strict lower part), dL/dupper (strict upper part) and
    /// dL/dlogScale through W = P · L · (U + diag(exp(logScale))).
    /// </summary>
    void LuComposeBackward(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor dWeight, Tensor dLower, Tensor dUpper, Tensor dLogScale);

    /// <summary>logDet[r] += Σ_j vector_j for every row (vector 1 x D).</summary>
    void AddSumToRows(Tensor vector, Tensor logDet);

    /// <summary>vectorGradient[j] += Σ_r dLogDet[r] for every j: the backward of <see cref="AddSumToRows"/>.</summary>
    void AccumulateSumOfRows(Tensor dLogDet, Tensor vectorGradient);
}
