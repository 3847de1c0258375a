using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Compute.Cuda;

// The image ops (3x3 im2col/col2im, the logit preprocessing) have no kernels yet: the same
// documented NotSupported boundary as the flow-level ops (docs/GPU.md).
public sealed partial class CudaBackend
{
    public void Im2Col3x3(Tensor pixels, int height, int width, Tensor columns) => throw NotOnGpu(nameof(Im2Col3x3));

    public void Col2Im3x3(Tensor columns, int height, int width, Tensor pixels) => throw NotOnGpu(nameof(Col2Im3x3));

    public bool TryConvolve3x3(Tensor pixels, int height, int width, Tensor weight, Tensor output, Tensor? bias = null,
        FusedActivation activation = FusedActivation.Identity) => false;

    public bool TryConvolve1x1(Tensor pixels, Tensor weight, Tensor output, Tensor? bias = null,
        FusedActivation activation = FusedActivation.Identity, Tensor? residual = null) => false;

    public bool TryConvolve3x3Backward(Tensor pixels, int height, int width, Tensor weight, Tensor dOutput, Tensor dWeight, Tensor? dPixels) => false;

    public void LogitForward(Tensor x, float alpha, Tensor z, Tensor logDet) => throw NotOnGpu(nameof(LogitForward));

    public void LogitInverse(Tensor z, float alpha, Tensor x) => throw NotOnGpu(nameof(LogitInverse));

    public void LogitBackward(Tensor x, float alpha, Tensor dz, Tensor dLogDet, Tensor dx) => throw NotOnGpu(nameof(LogitBackward));
}
