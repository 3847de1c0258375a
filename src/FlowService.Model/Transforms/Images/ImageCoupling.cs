using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Neural;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms.Images;

/// <summary>
/// The masked coupling of RealNVP on images (Dinh et al. 2017, section 3.4) and of Glow's step
/// (channel mask): the kept entries pass through and condition the others,
/// y_kept = x_kept, y_rest = leaf(x_rest; θ), θ = ConvResNet(kept entries as an image).
/// With a checkerboard the conditioner sees all C channels with the transformed pixels zeroed and
/// emits leaf parameters for every channel of every pixel (those of kept pixels unused); with a
/// channel mask it sees the kept channels and emits parameters for the others. Rows are HWC images
/// (<see cref="ImageShape"/>); the leaf is any <see cref="ICouplingLeaf"/> (affine for RealNVP and
/// Glow, additive for NICE-style image flows). Parameters: <c>conditioner.…</c> (<see cref="ConvResNet"/>).
/// </summary>
/// <remarks>
/// Conditioner output channel of (kind k, transformed channel t, parameter m):
/// (Σ_{k'&lt;k} n_k')·T_c + t·n_k + m, with T_c transformed channels per pixel and n_k the leaf's
/// values per feature of kind k; it is gathered into the leaf's kind-major parameter rows.
/// </remarks>
public sealed class ImageCoupling : ITransform
{
    private readonly int[] _identitySource;
    private readonly int[] _identityTarget;
    private readonly bool _denseInput;
    private readonly int[] _transformed;
    private readonly int[] _parameterSource;
    private readonly ICouplingLeaf _leaf;
    private readonly bool _zeroInitialize;

    public ImageCoupling(ImageShape shape, CouplingMask mask, bool flip, ICouplingLeaf leaf, int hiddenChannels, int blocks, bool zeroInitialize,
        FusedActivation activation = FusedActivation.Relu)
    {
        Shape = shape;
        Mask = mask;
        Flip = flip;
        _leaf = leaf;
        _zeroInitialize = zeroInitialize;
        int c = shape.Channels;
        var identitySource = new List<int>();
        var identityTarget = new List<int>();
        var transformed = new List<(int Index, int Pixel, int Channel)>();
        int inChannels, transformedChannels;
        if (mask == CouplingMask.Checkerboard)
        {
            if (shape.Pixels < 2)
                throw new ArgumentException($"A checkerboard coupling needs at least two pixels, not a {shape} image.");
            inChannels = transformedChannels = c;
            for (int h = 0; h < shape.Height; h++)
                for (int w = 0; w < shape.Width; w++)
                {
                    int p = h * shape.Width + w;
                    bool kept = ((h + w) % 2 == 0) != flip;
                    for (int ch = 0; ch < c; ch++)
                        if (kept)
                        {
                            identitySource.Add(p * c + ch);
                            identityTarget.Add(p * c + ch);
                        }
                        else
                        {
                            transformed.Add((p * c + ch, p, ch));
                        }
                }
        }
        else
        {
            if (c < 2)
                throw new ArgumentException($"A channel coupling needs at least two channels, not a {shape} image.");
            var first = Enumerable.Range(0, c / 2).ToArray();
            var second = Enumerable.Range(c / 2, c - c / 2).ToArray();
            var (keptChannels, changedChannels) = flip ? (second, first) : (first, second);
            inChannels = keptChannels.Length;
            transformedChannels = changedChannels.Length;
            for (int p = 0; p < shape.Pixels; p++)
            {
                for (int k = 0; k < keptChannels.Length; k++)
                {
                    identitySource.Add(p * c + keptChannels[k]);
                    identityTarget.Add(p * inChannels + k);
                }
                for (int t = 0; t < changedChannels.Length; t++)
                    transformed.Add((p * c + changedChannels[t], p, t));
            }
        }
        _identitySource = identitySource.ToArray();
        _identityTarget = identityTarget.ToArray();
        _denseInput = mask == CouplingMask.Channel;  // the kept channels fill the conditioner's input
        _transformed = transformed.Select(t => t.Index).ToArray();

        var kinds = leaf.ParametersPerFeatureByKind;
        int outChannels = transformedChannels * kinds.Sum();
        var parameterSource = new List<int>();
        int kindOffset = 0;
        foreach (int perFeature in kinds)
        {
            foreach (var (_, pixel, channel) in transformed)
                for (int m = 0; m < perFeature; m++)
                    parameterSource.Add(pixel * outChannels + kindOffset * transformedChannels + channel * perFeature + m);
            kindOffset += perFeature;
        }
        _parameterSource = parameterSource.ToArray();
        Conditioner = new ConvResNet(inChannels, hiddenChannels, blocks, outChannels, activation);
    }

    public ImageShape Shape { get; }

    public CouplingMask Mask { get; }

    public bool Flip { get; }

    public ConvResNet Conditioner { get; }

    public int Features => Shape.Features;

    public void DeclareParameters(ParameterScope scope) => Conditioner.DeclareParameters(scope.Scope("conditioner"));

    public void InitializeParameters(ParameterInitializer initializer) => Conditioner.InitializeParameters(initializer, _zeroInitialize);

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var parameters = Condition(context, x);
        var part = Buffer(context, "xT", x.Rows, _transformed.Length);
        var result = Buffer(context, "yT", x.Rows, _transformed.Length);
        context.Backend.GatherColumns(x, _transformed, part, 0);
        _leaf.Forward(context, part, parameters, result, logDet);
        context.Backend.Copy(x, y);
        context.Backend.ScatterColumns(result, 0, _transformed, y, accumulate: false);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        var parameters = Condition(context, y);
        var part = Buffer(context, "yT", y.Rows, _transformed.Length);
        var result = Buffer(context, "xTInverse", y.Rows, _transformed.Length);
        context.Backend.GatherColumns(y, _transformed, part, 0);
        _leaf.Inverse(context, part, parameters, result);
        context.Backend.Copy(y, x);
        context.Backend.ScatterColumns(result, 0, _transformed, x, accumulate: false);
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        int rows = dy.Rows, pixelRows = rows * Shape.Pixels;
        var backend = context.Backend;
        var input = Buffer(context, "input", rows, Shape.Pixels * Conditioner.InChannels);
        var output = Buffer(context, "output", rows, Shape.Pixels * Conditioner.OutChannels);
        var parameters = Buffer(context, "parameters", rows, _parameterSource.Length);
        var part = Buffer(context, "xT", rows, _transformed.Length);
        var dPart = Buffer(context, "dyT", rows, _transformed.Length);
        var dResult = Buffer(context, "dxT", rows, _transformed.Length);
        var dParameters = Buffer(context, "dParameters", rows, _parameterSource.Length);
        var dOutput = Buffer(context, "dOutput", rows, output.Cols);
        var dInput = Buffer(context, "dInput", rows, input.Cols);

        backend.GatherColumns(dy, _transformed, dPart, 0);
        _leaf.Backward(context, part, parameters, dPart, dLogDet, dResult, dParameters);
        // Outputs the leaf does not read (a checkerboard's kept pixels) get no gradient.
        backend.Fill(dOutput, 0f);
        backend.ScatterColumns(dParameters, 0, _parameterSource, dOutput, accumulate: false);
        Conditioner.Backward(context, input.Reshape(pixelRows, Conditioner.InChannels), Shape.Height, Shape.Width,
            output.Reshape(pixelRows, Conditioner.OutChannels), dOutput.Reshape(pixelRows, Conditioner.OutChannels),
            dInput.Reshape(pixelRows, Conditioner.InChannels));
        backend.Copy(dy, dx);
        backend.ScatterColumns(dResult, 0, _transformed, dx, accumulate: false);
        if (_denseInput)
        {
            backend.ScatterColumns(dInput, 0, _identitySource, dx, accumulate: true);
            return;
        }
        var dKept = Buffer(context, "dKept", rows, _identitySource.Length);
        backend.GatherColumns(dInput, _identityTarget, dKept, 0);
        backend.ScatterColumns(dKept, 0, _identitySource, dx, accumulate: true);
    }

    /// <summary>θ = net(kept entries of v) into this transform's buffers (Backward reads them back).</summary>
    private Tensor Condition(FlowContext context, Tensor v)
    {
        int rows = v.Rows, pixelRows = rows * Shape.Pixels;
        var backend = context.Backend;
        var input = Buffer(context, "input", rows, Shape.Pixels * Conditioner.InChannels);
        if (_denseInput)
        {
            backend.GatherColumns(v, _identitySource, input, 0);
        }
        else
        {
            var kept = Buffer(context, "kept", rows, _identitySource.Length);
            backend.GatherColumns(v, _identitySource, kept, 0);
            backend.Fill(input, 0f);
            backend.ScatterColumns(kept, 0, _identityTarget, input, accumulate: false);
        }
        var output = Buffer(context, "output", rows, Shape.Pixels * Conditioner.OutChannels);
        Conditioner.Forward(context, input.Reshape(pixelRows, Conditioner.InChannels), Shape.Height, Shape.Width,
            output.Reshape(pixelRows, Conditioner.OutChannels));
        var parameters = Buffer(context, "parameters", rows, _parameterSource.Length);
        backend.GatherColumns(output, _parameterSource, parameters, 0);
        return parameters;
    }

    private Tensor Buffer(FlowContext context, string name, int rows, int cols) => context.Workspace.Get(this, name, rows, cols);
}
