using System.Numerics;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;
using FlowService.Model.Transforms;

namespace FlowService.Training.Engine;

/// <summary>
/// The gradient of a batch's mean NLL, computed over several shards of the batch at once (one
/// <see cref="FlowContext"/> and gradient arena each, run on <see cref="ShardRunner.Shared"/>) and
/// summed into <see cref="Gradient"/>.
/// </summary>
/// <remarks>
/// The shard count depends on the batch size and the row width only, never on the machine's core count, and the arenas
/// are summed in shard order: the same batch gives bit-identical gradients on any machine and under
/// any thread timing, so a resumed job retraces the uninterrupted run exactly.
/// <para>
/// Activations live in one workspace per concurrently running shard, not per shard: a shard rents a free workspace
/// for its forward and backward and returns it, so a batch of 6 shards on 2 cores touches 2 shards' worth of
/// activation memory, not 6 (a first step on a VM pays ~20 µs per fresh 4 KB page: 0.5 s for the 150 MB that
/// per-shard workspaces of a 64-image batch took). Which workspace a shard gets does not change its result: every
/// buffer a transform reads in a step it has written in that step.
/// </para>
/// </remarks>
public sealed class ShardedGradient
{
    /// <summary>Rows of up to <see cref="NarrowRowFeatures"/> features below which a batch is not split further (a shard costs more to start than it saves).</summary>
    public const int MinRowsPerShard = 128;

    /// <summary>Rows wider than this (images: 784 values for 28x28) cost proportionally more, so fewer of them fill a shard (at least 8).</summary>
    public const int NarrowRowFeatures = 64;

    /// <summary>The most shards one batch is split into.</summary>
    public const int MaxShards = 8;

    private readonly NormalizingFlow _flow;
    private readonly Tensor[] _gradients;
    private readonly Workspace?[] _workspaces = new Workspace?[MaxShards];
    private readonly FlowContext?[,] _contexts = new FlowContext?[MaxShards, MaxShards];
    private int _freeWorkspaces = (1 << MaxShards) - 1;
    private readonly double[] _nll = new double[MaxShards];
    private readonly Dictionary<int, (Tensor X, Tensor? Condition)> _batches = new();

    public ShardedGradient(NormalizingFlow flow)
    {
        _flow = flow;
        _gradients = new Tensor[MaxShards];
        for (int s = 0; s < MaxShards; s++)
            _gradients[s] = flow.AllocateGradients();
    }

    /// <summary>dL/dθ of the last <see cref="Compute"/>, L = mean NLL of its batch (layout order, on the flow's backend).</summary>
    public Tensor Gradient => _gradients[0];

    public static int ShardsFor(int rows, int features) =>
        Math.Clamp(rows / Math.Max(8, MinRowsPerShard * NarrowRowFeatures / Math.Max(features, NarrowRowFeatures)), 1, MaxShards);

    /// <summary>
    /// Forward and backward of the batch (rows x Features, context rows x ContextFeatures); leaves the
    /// gradient of the mean NLL in <see cref="Gradient"/> and returns the batch's summed NLL (Σ -log p).
    /// </summary>
    public double Compute(ReadOnlySpan<float> x, ReadOnlySpan<float> context, int rows)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        var backend = _flow.Backend;
        var (tx, condition) = Batch(rows);
        backend.Upload(x, tx);
        if (condition is not null)
            backend.Upload(context, condition);
        int shards = ShardsFor(rows, _flow.Features);
        float weight = 1f / rows;
        ShardRunner.Shared.Run(shards, shard =>
        {
            var range = ShardRange.Of(rows, shards, shard);
            backend.Fill(_gradients[shard], 0f);
            int slot = RentWorkspace();
            try
            {
                _nll[shard] = _flow.AccumulateGradients(Context(slot, shard), tx.SliceRows(range.Start, range.Count),
                    condition?.SliceRows(range.Start, range.Count), weight);
            }
            finally
            {
                Interlocked.Or(ref _freeWorkspaces, 1 << slot);
            }
        });
        double nll = _nll[0];
        for (int s = 1; s < shards; s++)
        {
            backend.AddScaled(_gradients[s], 1f, _gradients[0]);
            nll += _nll[s];
        }
        return nll;
    }

    /// <summary>The lowest free workspace slot, taken; at most <see cref="MaxShards"/> shards run at once, so one is always free.</summary>
    private int RentWorkspace()
    {
        while (true)
        {
            int free = Volatile.Read(ref _freeWorkspaces);
            int slot = BitOperations.TrailingZeroCount(free);
            if (Interlocked.CompareExchange(ref _freeWorkspaces, free & ~(1 << slot), free) == free)
                return slot;
        }
    }

    /// <summary>Shard <paramref name="shard"/>'s gradient arena over workspace <paramref name="slot"/> (the slot is held by the caller).</summary>
    private FlowContext Context(int slot, int shard)
    {
        var workspace = _workspaces[slot] ??= new Workspace(_flow.Backend);
        return _contexts[slot, shard] ??= _flow.CreateTrainingContext(_gradients[shard], workspace);
    }

    private (Tensor X, Tensor? Condition) Batch(int rows)
    {
        if (!_batches.TryGetValue(rows, out var batch))
        {
            var backend = _flow.Backend;
            batch = (backend.Allocate(rows, _flow.Features), _flow.ContextFeatures > 0 ? backend.Allocate(rows, _flow.ContextFeatures) : null);
            _batches[rows] = batch;
        }
        return batch;
    }
}
