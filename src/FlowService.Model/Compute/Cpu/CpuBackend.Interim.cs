namespace FlowService.Model.Compute.Cpu;

// INTERIM (autoregressive branch only, removed before delivery).
public sealed partial class CpuBackend
{
    public void InterimBiasActivationForward(Tensor x, Tensor bias, Tensor y, FusedActivation activation) =>
        BiasActivation.Forward(x.Span(), bias.Span(), y.Span(), activation);

    public void InterimBiasActivationBackward(Tensor y, Tensor dy, Tensor dPre, Tensor biasGradient, FusedActivation activation) =>
        BiasActivation.Backward(y.Span(), dy.Span(), dPre.Span(), biasGradient.Span(), activation);

    public void InterimCopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count)
    {
        for (int r = 0; r < source.Rows; r++)
            source.Row(r).Slice(sourceColumn, count).CopyTo(destination.Row(r).Slice(destinationColumn, count));
    }

    public void InterimAccumulate(Tensor source, Tensor destination)
    {
        var s = source.Span(); var d = destination.Span();
        for (int i = 0; i < s.Length; i++) d[i] += s[i];
    }
}
