using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Images;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// The multi-scale image architectures of RealNVP (Dinh et al. 2017, section 3.6) and Glow (Kingma
/// and Dhariwal 2018, figure 2), on rows that are images channels first. Both start with the same
/// parameter-free preprocessing: reorder to channels last, divide by the pixel range (the
/// dequantized pixels' [0, range) to [0, 1)) and RealNVP's logit, whose log|det| terms keep log p
/// a density of the pixels the client sent; with "inputNorm", a per-value ActNorm after it. Without it the
/// couplings must learn each pixel's scale themselves: a near-constant background pixel is a spike about 0.07 wide
/// in logit space, and Adam moves a log-scale by about the learning rate per step.
/// </summary>
/// <remarks>
/// The latent row is [z of the last level | the half factored out before it | … | the half
/// factored out at level 0], each part channels last (HWC) at its level's shape.
/// </remarks>
public static class MultiScaleImageFlows
{
    /// <summary>
    /// Per level (shape C x H x W): <c>steps</c> checkerboard couplings (alternating), squeeze,
    /// <c>steps</c> channel couplings (alternating), split, and the next level on the kept half; the
    /// last level is <c>steps + 1</c> checkerboard couplings.
    /// </summary>
    public static ITransform RealNvp(ImageFlowOptions options) =>
        new Chain(Preprocessing(options).Append(RealNvpLevel(options, options.Shape, 0)).ToList());

    /// <summary>Per level: squeeze, <c>steps</c> × (ActNorm, invertible 1x1 convolution, channel coupling), split, and the next level on the kept half.</summary>
    public static ITransform Glow(ImageFlowOptions options, Random random) =>
        new Chain(Preprocessing(options).Append(GlowLevel(options, options.Shape, 0, random)).ToList());

    private static IEnumerable<ITransform> Preprocessing(ImageFlowOptions options)
    {
        int d = options.Shape.Features;
        yield return ImagePermutations.ChannelsLast(options.Shape);
        yield return new Standardization(new float[d], Enumerable.Repeat(options.PixelRange, d).ToArray());
        yield return new Logit(d, options.Alpha);
        if (options.InputNorm)
            yield return new ActNorm(d, options.InputNormFloor);
    }

    private static ITransform RealNvpLevel(ImageFlowOptions options, ImageShape shape, int level)
    {
        var chain = new List<ITransform>();
        bool last = level == options.Levels - 1;
        for (int i = 0; i < (last ? options.Steps + 1 : options.Steps); i++)
            chain.Add(Coupling(options, shape, CouplingMask.Checkerboard, flip: i % 2 == 1));
        if (!last)
        {
            chain.Add(ImagePermutations.Squeeze(shape));
            var squeezed = shape.Squeezed();
            for (int i = 0; i < options.Steps; i++)
                chain.Add(Coupling(options, squeezed, CouplingMask.Channel, flip: i % 2 == 1));
            chain.Add(ImagePermutations.Split(squeezed));
            chain.Add(new FactorOut(shape.Features, RealNvpLevel(options, squeezed.Kept(), level + 1)));
        }
        return new Chain(chain);
    }

    private static ITransform GlowLevel(ImageFlowOptions options, ImageShape shape, int level, Random random)
    {
        var squeezed = shape.Squeezed();
        var chain = new List<ITransform> { ImagePermutations.Squeeze(shape) };
        for (int k = 0; k < options.Steps; k++)
        {
            chain.Add(new ChannelActNorm(squeezed));
            chain.Add(new InvertibleConv1x1(squeezed, random));
            chain.Add(Coupling(options, squeezed, CouplingMask.Channel, flip: false));
        }
        if (level < options.Levels - 1)
        {
            chain.Add(ImagePermutations.Split(squeezed));
            chain.Add(new FactorOut(shape.Features, GlowLevel(options, squeezed.Kept(), level + 1, random)));
        }
        return new Chain(chain);
    }

    private static ImageCoupling Coupling(ImageFlowOptions options, ImageShape shape, CouplingMask mask, bool flip) =>
        new(shape, mask, flip, options.Leaf, options.Channels, options.Blocks, options.ZeroInit, options.Activation);
}
