namespace FlowService.Model.Compute;

public partial interface IBackend
{
    // Affine leaf (RealNVP, MAF), element-wise: for x of rows x d, a row of `parameters`
    // (rows x 2d) is [shift(d) | rawScale(d)]; s = c · tanh(rawScale / c) (soft clamp, c =
    // scaleClamp), y = x · exp(s) + shift, log|dy/dx| = s.

    /// <summary>y = x · exp(s) + shift; <b>adds</b> Σ_i s_i of each row to <paramref name="logDet"/> (rows x 1). y may alias x.</summary>
    void AffineForward(Tensor x, Tensor parameters, float scaleClamp, Tensor y, Tensor logDet);

    /// <summary>x = (y - shift) · exp(-s). x may alias y.</summary>
    void AffineInverse(Tensor y, Tensor parameters, float scaleClamp, Tensor x);

    /// <summary>Given dL/dy and dL/dlogDet (rows x 1) at input x, overwrites dL/dx and dL/dparameters ([dShift | dRawScale]).</summary>
    void AffineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, float scaleClamp, Tensor dx, Tensor dParameters);
}
