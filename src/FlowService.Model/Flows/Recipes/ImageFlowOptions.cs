using FlowService.Model.Compute.Cpu;
using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Images;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// The fields of a multi-scale image flow (a "realnvp" or "glow" spec with an "image" field):
/// "image" [C, H, W] (the rows are C·H·W values, channels first), "pixelRange" (256: pixels are
/// dequantized values in [0, pixelRange), divided by it before the logit), "alpha" (the logit's α,
/// 0.05), "levels" (scales), "steps" (couplings per stage, or Glow steps per level), "channels" (the
/// conditioner's width), "blocks" (its residual blocks), "coupling" ("affine" or "additive"),
/// "scaleClamp" (3), "zeroInit" (true: every coupling starts as the identity), "activation" (the
/// conditioner's: relu, elu or tanh), "inputNorm" (false: a per-value <see cref="ActNorm"/> after the logit, initialised
/// from the first training batch, so every pixel starts at unit scale; jobs on image datasets turn it on), "inputNormFloor"
/// (0.2: that ActNorm's smallest fitted std, as a fraction of the pooled std of all the values it starts from; 0 turns the
/// floor off; docs/ENGINE.md says why and how 0.2 was chosen). Defaults scale with
/// the image: as many levels as the size allows, up to 3; 64 channels from 16x16 pixels up, 32 below.
/// </summary>
public sealed record ImageFlowOptions(ImageShape Shape, float PixelRange, float Alpha, int Levels, int Steps, int Channels, int Blocks,
    ICouplingLeaf Leaf, bool ZeroInit, FusedActivation Activation, bool InputNorm, float InputNormFloor)
{
    private const int MaxLevels = 3;

    /// <summary>The input ActNorm's default std floor: a fraction of the pooled std (docs/ENGINE.md, "Image flows").</summary>
    public const float DefaultInputNormFloor = 0.2f;

    /// <summary>The options when <paramref name="spec"/> has an "image" field, else null (a flow of vectors).</summary>
    public static ImageFlowOptions? TryRead(FlowSpec spec, int features, int contextFeatures, bool glow)
    {
        int[] image = spec.GetIntArray("image", Array.Empty<int>(), 3, 3, 1, 1 << 14);
        if (image.Length == 0)
            return null;
        var shape = new ImageShape(image[0], image[1], image[2]);
        if ((long)shape.Channels * shape.Height * shape.Width != features)
            throw new FlowSpecException("image", $"An image of {shape} has {(long)shape.Features} values, but the rows have {features} features.");
        int declaredContext = spec.GetInt("contextFeatures", contextFeatures, 0, 0);
        if (contextFeatures != 0 || declaredContext != 0)
            throw new FlowSpecException("contextFeatures", "Image flows are not conditional.");
        int possible = PossibleLevels(shape, glow);
        if (possible == 0)
            throw new FlowSpecException("image", glow
                ? $"A Glow flow squeezes 2x2 at every level: the height and width of a {shape} image must be even."
                : $"A {shape} image is too small for a checkerboard coupling (at least two pixels).");
        int levels = spec.GetInt("levels", Math.Min(possible, MaxLevels), 1, possible);
        float pixelRange = spec.GetFloat("pixelRange", 256f, 0f, 1e9f);
        float alpha = spec.GetFloat("alpha", Logit.DefaultAlpha, -1e-30f, 0.49f);
        int steps = spec.GetInt("steps", glow ? 4 : 3, 1, 32);
        int channels = spec.GetInt("channels", shape.Pixels >= 256 ? 64 : 32, 1, 1024);
        int blocks = spec.GetInt("blocks", 2, 0, 16);
        float scaleClamp = spec.GetFloat("scaleClamp", AffineLeaf.DefaultScaleClamp, 0f, 100f);
        ICouplingLeaf leaf = spec.GetChoice("coupling", "affine", "affine", "additive") == "additive" ? new AdditiveLeaf() : new AffineLeaf(scaleClamp);
        bool zeroInit = spec.GetBool("zeroInit", true);
        var activation = spec.GetChoice("activation", "relu", "relu", "tanh", "elu") switch
        {
            "tanh" => FusedActivation.Tanh,
            "elu" => FusedActivation.Elu,
            _ => FusedActivation.Relu,
        };
        // Off by default: image specs saved before this field existed must rebuild the same parameters.
        bool inputNorm = spec.GetBool("inputNorm", false);
        // The floor only shapes the data-dependent start; a saved model's parameters are loaded, not refitted.
        float inputNormFloor = spec.GetFloat("inputNormFloor", DefaultInputNormFloor, -1e-30f, 10f);
        return new ImageFlowOptions(shape, pixelRange, alpha, levels, steps, channels, blocks, leaf, zeroInit, activation, inputNorm,
            Math.Max(inputNormFloor, 0f));
    }

    /// <summary>
    /// RealNVP squeezes between levels (level l works at H/2^l) and ends with checkerboards, which need
    /// two pixels; Glow squeezes at the start of every level, so H and W must be divisible by 2^levels.
    /// </summary>
    private static int PossibleLevels(ImageShape shape, bool glow)
    {
        if (glow)
        {
            int levels = 0;
            for (var current = shape; current.Height % 2 == 0 && current.Width % 2 == 0; current = current.Squeezed().Kept())
                levels++;
            return levels;
        }
        if (shape.Pixels < 2)
            return 0;
        int count = 1;
        for (var current = shape; current.Height % 2 == 0 && current.Width % 2 == 0 && current.Pixels >= 8; current = current.Squeezed().Kept())
            count++;
        return count;
    }
}
