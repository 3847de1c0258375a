namespace FlowService.Model.Compute.Cuda;

// The flow-level ops (base density, scaled adds, column affine, LU linear) have no kernels yet:
// the documented NotSupported boundary (docs/GPU.md) until the GPU helper writes them.
public sealed partial class CudaBackend
{
    public void StandardNormalLogDensity(Tensor z, Tensor logProb) => throw NotOnGpu(nameof(StandardNormalLogDensity));

    public void Scale(Tensor source, float alpha, Tensor destination) => throw NotOnGpu(nameof(Scale));

    public void AddScaled(Tensor source, float alpha, Tensor destination) => throw NotOnGpu(nameof(AddScaled));

    public void ColumnAffineForward(Tensor x, Tensor shift, Tensor logScale, Tensor y, Tensor logDet) => throw NotOnGpu(nameof(ColumnAffineForward));

    public void ColumnAffineInverse(Tensor y, Tensor shift, Tensor logScale, Tensor x) => throw NotOnGpu(nameof(ColumnAffineInverse));

    public void ColumnAffineBackward(Tensor x, Tensor shift, Tensor logScale, Tensor dy, Tensor dLogDet, Tensor dx, Tensor? dShift, Tensor? dLogScale) =>
        throw NotOnGpu(nameof(ColumnAffineBackward));

    public void LuCompose(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor weight) => throw NotOnGpu(nameof(LuCompose));

    public void LuInverse(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor inverse) => throw NotOnGpu(nameof(LuInverse));

    public void LuComposeBackward(Tensor lower, Tensor upper, Tensor logScale, int[] permutation, Tensor dWeight, Tensor dLower, Tensor dUpper, Tensor dLogScale) =>
        throw NotOnGpu(nameof(LuComposeBackward));

    public void AddSumToRows(Tensor vector, Tensor logDet) => throw NotOnGpu(nameof(AddSumToRows));

    public void AccumulateSumOfRows(Tensor dLogDet, Tensor vectorGradient) => throw NotOnGpu(nameof(AccumulateSumOfRows));

    private static NotSupportedException NotOnGpu(string op) => new($"CudaBackend: {op} is not on the GPU yet");
}
