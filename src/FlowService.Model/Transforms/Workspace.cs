using System.Runtime.CompilerServices;
using FlowService.Model.Compute;

namespace FlowService.Model.Transforms;

/// <summary>
/// Named scratch and activation buffers of one batch shard, keyed by (owner, name). A buffer is
/// allocated on first use and reused while its shape stays the same, so steady-state training
/// allocates nothing. Not thread-safe: one workspace per shard.
/// </summary>
public sealed class Workspace
{
    private readonly IBackend _backend;
    private readonly ConditionalWeakTable<object, Dictionary<string, Tensor>> _buffers = new();
    private readonly ConditionalWeakTable<object, Dictionary<string, Tensor>> _derived = new();

    public Workspace(IBackend backend) => _backend = backend;

    /// <summary>
    /// The buffer <paramref name="name"/> of <paramref name="owner"/>, shaped rows x cols. Contents
    /// are whatever was last written (zero when new): callers that need zeros fill it.
    /// </summary>
    public Tensor Get(object owner, string name, int rows, int cols)
    {
        var perOwner = _buffers.GetOrCreateValue(owner);
        if (perOwner.TryGetValue(name, out var tensor))
        {
            if (tensor.Rows == rows && tensor.Cols == cols)
                return tensor;
            // A smaller batch reuses a larger buffer's memory as a view of its leading rows.
            if (tensor.Cols == cols && tensor.Storage.Length - tensor.Offset >= rows * cols && rows <= tensor.Storage.Length / Math.Max(cols, 1))
                return new Tensor(tensor.Storage, tensor.Offset, rows, cols);
        }
        tensor = _backend.Allocate(rows, cols);
        perOwner[name] = tensor;
        return tensor;
    }

    /// <summary>
    /// The buffer <paramref name="name"/> of <paramref name="owner"/>, shaped rows x cols, filled by <paramref name="fill"/>
    /// the first time only: for values derived from parameters that cannot change (a flow frozen for serving), which every
    /// call would otherwise recompute. Kept apart from <see cref="Get"/>'s buffers, so no activation can overwrite it.
    /// </summary>
    public Tensor GetDerived<TState>(object owner, string name, int rows, int cols, TState state, Action<TState, Tensor> fill)
    {
        var perOwner = _derived.GetOrCreateValue(owner);
        if (perOwner.TryGetValue(name, out var tensor) && tensor.Rows == rows && tensor.Cols == cols)
            return tensor;
        tensor = _backend.Allocate(rows, cols);
        fill(state, tensor);
        perOwner[name] = tensor;
        return tensor;
    }
}
