using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Neural;

/// <summary>
/// The convolutional conditioner of the image couplings (a small ResNet, as RealNVP's): on pixel
/// rows (B·H·W) x in,
/// h₀ = f(conv3x3_input(x)); h_{j+1} = f(h_j + conv1x1_j(f(conv3x3_j(h_j)))); y = conv3x3_output(h_n), with f
/// relu by default (elu or tanh when a smooth conditioner is wanted).
/// Parameters: <c>input.weight|bias</c>, <c>blocks.{j}.conv3x3.weight|bias</c>,
/// <c>blocks.{j}.conv1x1.weight|bias</c>, <c>output.weight|bias</c> (layouts in <see cref="Conv2d"/>).
/// The output layer starts at zero when asked (Glow's zero-initialised last convolution), so a
/// coupling starts as the identity.
/// </summary>
public sealed class ConvResNet
{
    /// <summary>
    /// Owner of the backward pass's gradient buffers, shared by every conditioner of a workspace: they are dead once
    /// a Backward returns, so a flow of many couplings needs one set (per width) instead of one per coupling.
    /// </summary>
    private static readonly object BackwardScratch = new();

    private readonly Conv2d _input;
    private readonly string[] _scratchNames;
    private readonly string[] _hiddenNames;     // h0 … h{blocks}
    private readonly string[] _innerNames;      // a0 … a{blocks - 1}
    private readonly (Conv2d Spatial, Conv2d Mix)[] _blocks;
    private readonly Conv2d _output;

    public ConvResNet(int inChannels, int hiddenChannels, int blocks, int outChannels, FusedActivation activation = FusedActivation.Relu)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(blocks);
        _input = new Conv2d(inChannels, hiddenChannels, 3, activation);
        _blocks = Enumerable.Range(0, blocks)
            .Select(_ => (new Conv2d(hiddenChannels, hiddenChannels, 3, activation), new Conv2d(hiddenChannels, hiddenChannels, 1, activation)))
            .ToArray();
        _output = new Conv2d(hiddenChannels, outChannels, 3, FusedActivation.Identity);
        HiddenChannels = hiddenChannels;
        _hiddenNames = Enumerable.Range(0, blocks + 1).Select(j => $"h{j}").ToArray();
        _innerNames = Enumerable.Range(0, blocks).Select(j => $"a{j}").ToArray();
        _scratchNames = [$"dh{hiddenChannels}", $"dInner{hiddenChannels}", $"dPrevious{hiddenChannels}"];
    }

    public int InChannels => _input.InChannels;

    public int HiddenChannels { get; }

    public int OutChannels => _output.OutChannels;

    public void DeclareParameters(ParameterScope scope)
    {
        _input.DeclareParameters(scope.Scope("input"));
        for (int j = 0; j < _blocks.Length; j++)
        {
            _blocks[j].Spatial.DeclareParameters(scope.Scope($"blocks.{j}.conv3x3"));
            _blocks[j].Mix.DeclareParameters(scope.Scope($"blocks.{j}.conv1x1"));
        }
        _output.DeclareParameters(scope.Scope("output"));
    }

    public void InitializeParameters(ParameterInitializer initializer, bool zeroOutput)
    {
        _input.InitializeParameters(initializer, zero: false);
        foreach (var (spatial, mix) in _blocks)
        {
            spatial.InitializeParameters(initializer, zero: false);
            mix.InitializeParameters(initializer, zero: false);
        }
        _output.InitializeParameters(initializer, zeroOutput);
    }

    /// <summary>y = net(x) for x (B·H·W) x in and y (B·H·W) x out; the hidden activations stay in the workspace for Backward.</summary>
    public void Forward(FlowContext context, Tensor x, int height, int width, Tensor y)
    {
        var h = Hidden(context, _hiddenNames[0], x.Rows);
        _input.Forward(context, x, height, width, h);
        for (int j = 0; j < _blocks.Length; j++)
        {
            var inner = Hidden(context, _innerNames[j], x.Rows);
            var next = Hidden(context, _hiddenNames[j + 1], x.Rows);
            _blocks[j].Spatial.Forward(context, h, height, width, inner);
            _blocks[j].Mix.Forward(context, inner, height, width, next, residual: h);
            h = next;
        }
        _output.Forward(context, h, height, width, y);
    }

    /// <summary>
    /// From the forward's x and y: accumulates every parameter gradient and writes dL/dx when
    /// <paramref name="dx"/> is not null. Overwrites <paramref name="dy"/>.
    /// </summary>
    public void Backward(FlowContext context, Tensor x, int height, int width, Tensor y, Tensor dy, Tensor? dx)
    {
        int rows = x.Rows;
        var h = Hidden(context, _hiddenNames[_blocks.Length], rows);
        var dh = Scratch(context, 0, rows);
        _output.Backward(context, h, height, width, y, dy, dh);
        var dInner = Scratch(context, 1, rows);
        var dPrevious = Scratch(context, 2, rows);
        for (int j = _blocks.Length - 1; j >= 0; j--)
        {
            var previous = Hidden(context, _hiddenNames[j], rows);
            var inner = Hidden(context, _innerNames[j], rows);
            // dh becomes dL/d(pre-activation of h_{j+1}), which flows to h_j both through the skip and the branch.
            _blocks[j].Mix.Backward(context, inner, height, width, h, dh, dInner);
            _blocks[j].Spatial.Backward(context, previous, height, width, inner, dInner, dPrevious);
            context.Backend.AddScaled(dPrevious, 1f, dh);
            h = previous;
        }
        _input.Backward(context, x, height, width, h, dh, dx);
    }

    private Tensor Hidden(FlowContext context, string name, int rows) => context.Workspace.Get(this, name, rows, HiddenChannels);

    private Tensor Scratch(FlowContext context, int which, int rows) => context.Workspace.Get(BackwardScratch, _scratchNames[which], rows, HiddenChannels);
}
