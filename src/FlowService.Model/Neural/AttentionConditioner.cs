using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>
/// A coupling conditioner with self-attention: <see cref="GatedSelfAttention"/> over the m inputs (parameters
/// <c>attention.*</c>), then an MLP head from the m·E attended features to the leaf's parameters (<c>net.{j}</c>,
/// zero-initialisable like <see cref="Mlp"/>). CPU backend only (the attention runs as host loops).
/// </summary>
public sealed class AttentionConditioner : IConditioner
{
    private readonly GatedSelfAttention _attention;
    private readonly Mlp _head;

    public AttentionConditioner(int inFeatures, int embedding, int heads, IReadOnlyList<int> hidden, int outFeatures, FusedActivation activation)
    {
        _attention = new GatedSelfAttention(inFeatures, embedding, heads);
        _head = new Mlp(_attention.OutFeatures, hidden, outFeatures, activation);
    }

    public int InFeatures => _attention.Tokens;

    public int OutFeatures => _head.OutFeatures;

    public void DeclareParameters(ParameterScope scope)
    {
        _attention.DeclareParameters(scope.Scope("attention"));
        _head.DeclareParameters(scope);
    }

    public void InitializeParameters(ParameterInitializer initializer, bool zeroLastLayer)
    {
        _attention.InitializeParameters(initializer);
        _head.InitializeParameters(initializer, zeroLastLayer);
    }

    public void Forward(FlowContext context, Tensor input, Tensor output)
    {
        var attended = context.Workspace.Get(this, "attended", input.Rows, _attention.OutFeatures);
        _attention.Forward(context, input, attended);
        _head.Forward(context, attended, output);
    }

    public void Backward(FlowContext context, Tensor input, Tensor output, Tensor dOutput, Tensor? dInput)
    {
        var attended = context.Workspace.Get(this, "attended", input.Rows, _attention.OutFeatures);
        var dAttended = context.Workspace.Get(this, "dAttended", input.Rows, _attention.OutFeatures);
        _head.Backward(context, attended, output, dOutput, dAttended);
        _attention.Backward(context, input, dAttended, dInput);
    }
}
