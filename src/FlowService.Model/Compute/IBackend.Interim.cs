using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Compute;

// INTERIM (autoregressive branch only, removed before delivery): the generic neural ops that the
// "transforms" helper delivers in its milestone 1; stand-ins so MADE can be built and tested now.
public partial interface IBackend
{
    void InterimBiasActivationForward(Tensor x, Tensor bias, Tensor y, FusedActivation activation);
    void InterimBiasActivationBackward(Tensor y, Tensor dy, Tensor dPre, Tensor biasGradient, FusedActivation activation);
    void InterimCopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count);
    void InterimAccumulate(Tensor source, Tensor destination);
}
