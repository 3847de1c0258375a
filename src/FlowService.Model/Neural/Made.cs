using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>
/// MADE (Germain et al. 2015, "MADE: Masked Autoencoder for Distribution Estimation"): an MLP of
/// <see cref="MaskedLinear"/> layers whose masks make every output for feature i a function of
/// features 0..i-1 (and the context) only, so one pass gives all the parameters of an
/// autoregressive transform.
/// </summary>
/// <remarks>
/// Input: [x (D) | context (C)], context columns last. Output: the leaf's parameters grouped by
/// kind, each kind feature-major (e.g. affine [shift(D) | rawScale(D)], spline
/// [widths(D·K) | heights(D·K) | derivatives(D·(K-1))]); <c>perFeature</c> lists how many values
/// each kind has per feature. Parameters <c>net.{j}.weight</c> [out, in] and <c>net.{j}.bias</c>
/// for the j-th layer; masks come from <see cref="MadeDegrees"/> and are not parameters.
/// </remarks>
public sealed class Made
{
    private readonly MaskedLinear[] _layers;

    public Made(int features, int contextFeatures, IReadOnlyList<int> hidden, IReadOnlyList<int> perFeature, FusedActivation activation = FusedActivation.Relu)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(features);
        ArgumentOutOfRangeException.ThrowIfNegative(contextFeatures);
        if (hidden.Any(units => units <= 0))
            throw new ArgumentOutOfRangeException(nameof(hidden), "Every hidden layer needs at least one unit.");
        if (perFeature.Count == 0 || perFeature.Any(count => count <= 0))
            throw new ArgumentOutOfRangeException(nameof(perFeature), "Every parameter kind needs at least one value per feature.");
        Features = features;
        ContextFeatures = contextFeatures;
        bool hasContext = contextFeatures > 0;

        var layers = new List<MaskedLinear>();
        int[] previous = MadeDegrees.Inputs(features, contextFeatures);
        foreach (int units in hidden)
        {
            int[] degrees = MadeDegrees.Hidden(features, units, hasContext);
            layers.Add(new MaskedLinear(previous.Length, units, MadeDegrees.Mask(degrees, previous, strict: false), activation));
            previous = degrees;
        }
        int[] outputs = MadeDegrees.Outputs(features, perFeature);
        layers.Add(new MaskedLinear(previous.Length, outputs.Length, MadeDegrees.Mask(outputs, previous, strict: true), FusedActivation.Identity));
        _layers = layers.ToArray();
    }

    public int Features { get; }

    public int ContextFeatures { get; }

    public int InputFeatures => Features + ContextFeatures;

    public int OutputFeatures => _layers[^1].OutFeatures;

    public IReadOnlyList<MaskedLinear> Layers => _layers;

    public void DeclareParameters(ParameterScope scope)
    {
        for (int j = 0; j < _layers.Length; j++)
            _layers[j].DeclareParameters(scope.Scope($"net.{j}"));
    }

    /// <summary>nn.Linear's default initialisation; with <paramref name="zeroLastLayer"/> the output layer starts at zero (the transform starts as the identity).</summary>
    public void InitializeParameters(ParameterInitializer initializer, bool zeroLastLayer)
    {
        for (int j = 0; j < _layers.Length; j++)
        {
            if (zeroLastLayer && j == _layers.Length - 1)
                _layers[j].InitializeToZero(initializer);
            else
                _layers[j].InitializeParameters(initializer);
        }
    }

    /// <summary>output = MADE(input); input rows x (D + C), output rows x <see cref="OutputFeatures"/>. Keeps the activations for <see cref="Backward"/>.</summary>
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

    /// <summary>
    /// Back through the layers of the last <see cref="Forward"/> on this context (which produced
    /// <paramref name="output"/> from <paramref name="input"/>): accumulates parameter gradients
    /// and writes dL/dinput into <paramref name="dInput"/> when not null. Overwrites <paramref name="dOutput"/>.
    /// </summary>
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
