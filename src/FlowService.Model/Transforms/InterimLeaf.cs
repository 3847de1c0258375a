using FlowService.Model.Compute;

namespace FlowService.Model.Transforms;

// INTERIM (autoregressive branch only): stands in for the "transforms" helper's leaf contract.
public interface IInterimLeaf
{
    IReadOnlyList<int> ParametersPerFeatureByKind { get; }
    void Forward(FlowContext context, Tensor x, Tensor parameters, Tensor y, Tensor logDet);
    void Inverse(FlowContext context, Tensor y, Tensor parameters, Tensor x);
    void Backward(FlowContext context, Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, Tensor dx, Tensor dParameters);
}
