using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Compute;

public partial interface IBackend
{
    // Images: a batch of B images of C channels and H x W pixels is seen by convolutions as
    // "pixel rows" (B·H·W x C, channels last), so a 1x1 convolution is one GEMM and a 3x3 one is
    // im2col + GEMM. Also the element-wise logit of RealNVP's image preprocessing.

    /// <summary>
    /// columns[(b, h, w), (ky·3 + kx)·C + c] = pixels[(b, h + ky - 1, w + kx - 1), c], zero outside the
    /// image (stride 1, zero padding 1). pixels is (B·H·W) x C, columns (B·H·W) x 9C.
    /// </summary>
    void Im2Col3x3(Tensor pixels, int height, int width, Tensor columns);

    /// <summary>
    /// The adjoint of <see cref="Im2Col3x3"/>: <b>overwrites</b> pixels[(b, h, w), c] with the sum of every
    /// column entry that was read from that pixel (the input gradient of a 3x3 convolution).
    /// </summary>
    void Col2Im3x3(Tensor columns, int height, int width, Tensor pixels);

    /// <summary>
    /// output = conv3x3(pixels; weight) (stride 1, zero padding 1, no bias) computed directly, without im2col, where this
    /// backend has such a path for the shape; returns false and leaves output alone where it has none (the caller
    /// then runs <see cref="Im2Col3x3"/> and a GEMM). weight is [out, 9·in] in (ky, kx, in) order. With a
    /// <paramref name="bias"/> (1 x out) the layer's epilogue is fused: output = f(conv + bias) for <paramref name="activation"/> f,
    /// applied while each output row is still in cache instead of in a second pass over the whole output.
    /// </summary>
    bool TryConvolve3x3(Tensor pixels, int height, int width, Tensor weight, Tensor output, Tensor? bias = null,
        FusedActivation activation = FusedActivation.Identity);

    /// <summary>
    /// output = f(pixels · weightᵀ + bias + residual), a 1x1 convolution (weight [out, in]) with its epilogue fused, where
    /// this backend has such a path for the shape; returns false and leaves output alone where it has none (the caller then
    /// runs a GEMM and the epilogue in passes of its own). <paramref name="bias"/> null leaves out the bias and
    /// <paramref name="activation"/>, <paramref name="residual"/> (output's shape) null the residual.
    /// </summary>
    bool TryConvolve1x1(Tensor pixels, Tensor weight, Tensor output, Tensor? bias = null, FusedActivation activation = FusedActivation.Identity,
        Tensor? residual = null);

    /// <summary>
    /// The backward of <see cref="TryConvolve3x3"/> on the same terms: <b>adds</b> dL/dweight to dWeight and, when
    /// dPixels is not null, <b>overwrites</b> it with dL/dpixels; false (nothing written) where the backend has no direct path.
    /// </summary>
    bool TryConvolve3x3Backward(Tensor pixels, int height, int width, Tensor weight, Tensor dOutput, Tensor dWeight, Tensor? dPixels);

    /// <summary>
    /// z = logit(α + (1 - 2α) x) element-wise (x in [0, 1]); <b>adds</b> Σ_j log|dz_j/dx_j| =
    /// Σ_j [log(1 - 2α) - log s_j - log(1 - s_j)] with s = α + (1 - 2α) x to each row of logDet.
    /// </summary>
    void LogitForward(Tensor x, float alpha, Tensor z, Tensor logDet);

    /// <summary>x = (sigmoid(z) - α) / (1 - 2α).</summary>
    void LogitInverse(Tensor z, float alpha, Tensor x);

    /// <summary>At input x: overwrites dx = dz · dz/dx + dLogDet_r · d(log|dz/dx|)/dx.</summary>
    void LogitBackward(Tensor x, float alpha, Tensor dz, Tensor dLogDet, Tensor dx);
}
