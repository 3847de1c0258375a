namespace FlowService.Model.Compute;

public partial interface IBackend
{
    // Rational-quadratic spline leaf, element-wise (Durkan et al. 2019; the math and its scalar
    // reference are in Cpu/RationalQuadraticSpline.cs). For x of rows x D and K bins, a row of
    // `parameters` (rows x D(3K-1)) holds the unnormalised spline parameters grouped by kind:
    // [widths D·K | heights D·K | derivatives D·(K-1)], each block feature-major then bin.
    // Identity tails outside [-tailBound, tailBound].

    /// <summary>
    /// Whether the three operations below also take <c>parameters</c> of one row that every row of the input shares
    /// (an element-wise spline with no conditioner): the backend then prepares its knots once per call instead of once per
    /// row. <see cref="SplineBackward"/> still writes a gradient row per input row. Backends without it (false) need the row
    /// repeated for every input row.
    /// </summary>
    bool SharesSplineParameters => false;

    /// <summary>y = spline(x) element-wise; <b>adds</b> Σ_i log|dy_i/dx_i| of each row to <paramref name="logDet"/> (rows x 1). y may alias x.</summary>
    void SplineForward(Tensor x, Tensor parameters, int bins, float tailBound, Tensor y, Tensor logDet);

    /// <summary>x = spline⁻¹(y) element-wise. x may alias y.</summary>
    void SplineInverse(Tensor y, Tensor parameters, int bins, float tailBound, Tensor x);

    /// <summary>
    /// Given dL/dy and dL/dlogDet (rows x 1) of <see cref="SplineForward"/> at input x, overwrites
    /// dL/dx (<paramref name="dx"/>) and dL/dparameters (<paramref name="dParameters"/>, same
    /// layout as the parameters; the fixed boundary derivatives have no slot).
    /// </summary>
    void SplineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, int bins, float tailBound, Tensor dx, Tensor dParameters);
}
