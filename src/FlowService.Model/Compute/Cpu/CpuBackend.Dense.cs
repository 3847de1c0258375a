namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    public void BiasActivationForward(Tensor preActivation, Tensor bias, Tensor output, FusedActivation activation)
    {
        RequireSameShape(preActivation, output);
        RequireBiasRow(bias, preActivation.Cols);
        BiasActivation.Forward(preActivation.Span(), bias.Span(), output.Span(), activation);
    }

    public void BiasActivationBackward(Tensor output, Tensor dOutput, Tensor dPreActivation, Tensor biasGradient, FusedActivation activation)
    {
        RequireSameShape(output, dOutput);
        RequireSameShape(output, dPreActivation);
        RequireBiasRow(biasGradient, output.Cols);
        BiasActivation.Backward(output.Span(), dOutput.Span(), dPreActivation.Span(), biasGradient.Span(), activation);
    }

    private static void RequireBiasRow(Tensor bias, int cols)
    {
        if (bias.Length != cols)
            throw new ArgumentException($"A bias for {cols} columns must hold {cols} floats, not {bias.Length}.");
    }
}
