using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// The fields every recipe shares: "layers", "hidden" (conditioner widths), "activation"
/// (relu, tanh, elu), "contextFeatures" (must agree with the flow's, when present) and
/// "zeroInit" (final conditioner layers start at zero, so the flow starts as the identity).
/// </summary>
public sealed record CommonOptions(int Layers, int[] Hidden, FusedActivation Activation, bool ZeroInit)
{
    public static CommonOptions Read(FlowSpec spec, int contextFeatures, int defaultLayers, int[] defaultHidden)
    {
        int declaredContext = spec.GetInt("contextFeatures", contextFeatures, 0, 1 << 16);
        if (declaredContext != contextFeatures)
            throw new FlowSpecException("contextFeatures", $"'contextFeatures' is {declaredContext} in the spec but the flow is built with {contextFeatures} context features.");
        int layers = spec.GetInt("layers", defaultLayers, 1, 64);
        int[] hidden = spec.GetIntArray("hidden", defaultHidden, 0, 8, 1, 4096);
        var activation = spec.GetChoice("activation", "relu", "relu", "tanh", "elu") switch
        {
            "tanh" => FusedActivation.Tanh,
            "elu" => FusedActivation.Elu,
            _ => FusedActivation.Relu,
        };
        bool zeroInit = spec.GetBool("zeroInit", false);
        return new CommonOptions(layers, hidden, activation, zeroInit);
    }
}
