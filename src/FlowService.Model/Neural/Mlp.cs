using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>
/// Linear → f → … → Linear, the conditioner of coupling transforms. Parameters
/// <c>net.{j}.weight|bias</c>, j counting Linears only (as the PyTorch reference names them).
/// </summary>
public sealed class Mlp : IConditioner
{
    private readonly Linear[] _layers;

    public Mlp(int inFeatures, IReadOnlyList<int> hidden, int outFeatures, FusedActivation activation)
    {
        var sizes = new List<int> { inFeatures };
        sizes.AddRange(hidden);
        sizes.Add(outFeatures);
        _layers = new Linear[sizes.Count - 1];
        for (int j = 0; j < _layers.Length; j++)
            _layers[j] = new Linear(sizes[j], sizes[j + 1], j == _layers.Length - 1 ? FusedActivation.Identity : activation);
    }

    public int InFeatures => _layers[0].InFeatures;

    public int OutFeatures => _layers[^1].OutFeatures;

    public void DeclareParameters(ParameterScope scope)
    {
        for (int j = 0; j < _layers.Length; j++)
            _layers[j].DeclareParameters(scope.Scope($"net.{j}"));
    }

    /// <summary>Default initialisation; with <paramref name="zeroLastLayer"/> the output starts at zero.</summary>
    public void InitializeParameters(ParameterInitializer initializer, bool zeroLastLayer)
    {
        for (int j = 0; j < _layers.Length; j++)
            _layers[j].InitializeParameters(initializer, zeroLastLayer && j == _layers.Length - 1);
    }

    public void Forward(FlowContext context, Tensor input, Tensor output)
    {
        var h = input;
        for (int j = 0; j < _layers.Length - 1; j++)
        {
            var activation = context.Workspace.Get(this, $"act{j}", input.Rows, _layers[j].OutFeatures);
            _layers[j].Forward(context, h, activation);
            h = activation;
        }
        _layers[^1].Forward(context, h, output);
    }

    /// <summary>Back through the last Forward (input → output); overwrites <paramref name="dOutput"/>; writes dInput when not null.</summary>
    public void Backward(FlowContext context, Tensor input, Tensor output, Tensor dOutput, Tensor? dInput)
    {
        int rows = input.Rows;
        var gradient = dOutput;
        var layerOutput = output;
        for (int j = _layers.Length - 1; j >= 0; j--)
        {
            var layerInput = j == 0 ? input : context.Workspace.Get(this, $"act{j - 1}", rows, _layers[j - 1].OutFeatures);
            Tensor? dLayerInput = j == 0 ? dInput : context.Workspace.Get(this, $"dAct{j - 1}", rows, _layers[j - 1].OutFeatures);
            _layers[j].Backward(context, layerInput, layerOutput, gradient, dLayerInput);
            if (j > 0)
            {
                gradient = dLayerInput!;
                layerOutput = layerInput;
            }
        }
    }
}
