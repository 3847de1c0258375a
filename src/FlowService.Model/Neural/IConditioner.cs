using FlowService.Model.Compute;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>
/// What a coupling asks of its conditioner: a map from [x[:, identity] | context] (rows x In) to the leaf's
/// parameters (rows x Out) with a hand-written backward. <see cref="Mlp"/> and <see cref="AttentionConditioner"/>.
/// </summary>
public interface IConditioner
{
    int InFeatures { get; }

    int OutFeatures { get; }

    void DeclareParameters(ParameterScope scope);

    /// <summary>Default initialisation; with <paramref name="zeroLastLayer"/> the output starts at zero (identity couplings).</summary>
    void InitializeParameters(ParameterInitializer initializer, bool zeroLastLayer);

    void Forward(FlowContext context, Tensor input, Tensor output);

    /// <summary>Back through the last Forward; may overwrite <paramref name="dOutput"/>; writes dInput when not null; accumulates parameter gradients.</summary>
    void Backward(FlowContext context, Tensor input, Tensor output, Tensor dOutput, Tensor? dInput);
}
