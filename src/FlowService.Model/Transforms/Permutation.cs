using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// y[:, i] = x[:, order[i]]: a fixed reordering of the features between layers (reversal or a
/// seeded random order), so every feature is transformed and conditions the others. No
/// parameters; log|det| = 0.
/// </summary>
public sealed class Permutation : ITransform
{
    private readonly int[] _order;
    private readonly int[] _inverse;

    public Permutation(IReadOnlyList<int> order)
    {
        _order = order.ToArray();
        _inverse = new int[_order.Length];
        var seen = new bool[_order.Length];
        for (int i = 0; i < _order.Length; i++)
        {
            int j = _order[i];
            if ((uint)j >= (uint)_order.Length || seen[j])
                throw new ArgumentException($"[{string.Join(", ", _order)}] is not a permutation of 0..{_order.Length - 1}.", nameof(order));
            seen[j] = true;
            _inverse[j] = i;
        }
    }

    /// <summary>D-1, …, 1, 0.</summary>
    public static Permutation Reverse(int features) => new(Enumerable.Range(0, features).Reverse().ToArray());

    /// <summary>A uniformly random order drawn from <paramref name="random"/> (Fisher–Yates).</summary>
    public static Permutation Random(int features, Random random)
    {
        var order = Enumerable.Range(0, features).ToArray();
        for (int i = features - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return new Permutation(order);
    }

    public IReadOnlyList<int> Order => _order;

    public int Features => _order.Length;

    public void DeclareParameters(ParameterScope scope)
    {
    }

    public void InitializeParameters(ParameterInitializer initializer)
    {
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet) => context.Backend.GatherColumns(x, _order, y, 0);

    public void Inverse(FlowContext context, Tensor y, Tensor x) => context.Backend.GatherColumns(y, _inverse, x, 0);

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx) => context.Backend.GatherColumns(dy, _inverse, dx, 0);
}
