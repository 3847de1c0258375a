namespace FlowService.Model.Compute;

// INTERIM (autoregressive branch only, removed before delivery): the generic neural ops that the
// "transforms" helper delivers in its milestone 1; stand-ins so MADE can be built and tested now.
public partial interface IBackend
{
    void InterimAddBias(Tensor y, Tensor bias);
    void InterimBiasGradient(Tensor dy, Tensor dBias);
    void InterimRelu(Tensor x, Tensor y);
    void InterimReluBackward(Tensor x, Tensor dy, Tensor dx);
    void InterimCopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count);
    void InterimAccumulate(Tensor source, Tensor destination);
}
