using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// f = f_{n-1} ∘ … ∘ f_0: the transforms of a flow in data → latent order; log|det| adds up.
/// The i-th transform's parameters are named <c>transforms.{i}.</c> + its own names (i counts
/// every transform, parameter-free ones included, as the PyTorch reference's ModuleList does).
/// </summary>
public sealed class Chain : ITransform
{
    private readonly ITransform[] _transforms;

    public Chain(IReadOnlyList<ITransform> transforms)
    {
        if (transforms.Count == 0)
            throw new ArgumentException("A chain needs at least one transform.", nameof(transforms));
        int features = transforms[0].Features;
        if (transforms.Any(t => t.Features != features))
            throw new ArgumentException("Every transform of a chain must have the same number of features.", nameof(transforms));
        _transforms = transforms.ToArray();
    }

    public IReadOnlyList<ITransform> Transforms => _transforms;

    public int Features => _transforms[0].Features;

    public void DeclareParameters(ParameterScope scope)
    {
        for (int i = 0; i < _transforms.Length; i++)
            _transforms[i].DeclareParameters(scope.Scope($"transforms.{i}"));
    }

    public void InitializeParameters(ParameterInitializer initializer)
    {
        foreach (var transform in _transforms)
            transform.InitializeParameters(initializer);
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var h = x;
        for (int i = 0; i < _transforms.Length; i++)
        {
            // Each intermediate has its own buffer: the transforms may keep references to their x and y until Backward.
            var next = i == _transforms.Length - 1 ? y : context.Workspace.Get(this, $"h{i}", x.Rows, Features);
            _transforms[i].Forward(context, h, next, logDet);
            h = next;
        }
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        var h = y;
        for (int i = _transforms.Length - 1; i >= 0; i--)
        {
            var next = i == 0 ? x : context.Workspace.Get(this, $"inverse{i % 2}", y.Rows, Features);
            _transforms[i].Inverse(context, h, next);
            h = next;
        }
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        var g = dy;
        for (int i = _transforms.Length - 1; i >= 0; i--)
        {
            var next = i == 0 ? dx : context.Workspace.Get(this, $"gradient{i % 2}", dy.Rows, Features);
            _transforms[i].Backward(context, g, dLogDet, next);
            g = next;
        }
    }
}
