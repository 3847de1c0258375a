using FlowService.Model.Compute;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;
using FlowService.Model.Targets;
using FlowService.Model.Transforms;

namespace FlowService.Training.Engine;

/// <summary>
/// The reparameterization gradient of a batch's reverse-KL estimate mean(log q(T(z)) - log p̃(T(z))) for a
/// generative flow, over shards of the batch as <see cref="ShardedGradient"/> does (shard count from the batch
/// size only, arenas summed in shard order, so the same noise gives bit-identical gradients anywhere).
/// </summary>
public sealed class ReverseKlGradient
{
    private readonly NormalizingFlow _flow;
    private readonly TargetDensity _target;
    private readonly FlowContext[] _contexts;
    private readonly Tensor[] _gradients;
    private readonly double[] _loss = new double[ShardedGradient.MaxShards];
    private readonly Dictionary<int, Tensor> _batches = new();

    public ReverseKlGradient(NormalizingFlow flow, TargetDensity target)
    {
        if (!flow.Generative)
            throw new ArgumentException("Reverse-KL fitting needs a generative flow.", nameof(flow));
        _flow = flow;
        _target = target;
        _gradients = new Tensor[ShardedGradient.MaxShards];
        _contexts = new FlowContext[ShardedGradient.MaxShards];
        for (int s = 0; s < ShardedGradient.MaxShards; s++)
        {
            _gradients[s] = flow.AllocateGradients();
            _contexts[s] = flow.CreateTrainingContext(_gradients[s]);
        }
    }

    /// <summary>dL/dθ of the last <see cref="Compute"/> (L = the batch's mean of log q - log p̃), on the flow's backend.</summary>
    public Tensor Gradient => _gradients[0];

    /// <summary>
    /// Forward and backward for the noise <paramref name="z"/> (rows x D); leaves the gradient in <see cref="Gradient"/>,
    /// writes the log importance weights log p̃ - log q per row and returns their negated sum Σ (log q - log p̃).
    /// </summary>
    public double Compute(ReadOnlySpan<float> z, int rows, Span<double> logWeights)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        var backend = _flow.Backend;
        if (!_batches.TryGetValue(rows, out var tz))
            _batches[rows] = tz = backend.Allocate(rows, _flow.Features);
        backend.Upload(z, tz);
        int shards = ShardedGradient.ShardsFor(rows, _flow.Features);
        float weight = 1f / rows;
        var weights = new double[rows];
        ShardRunner.Shared.Run(shards, shard =>
        {
            var range = ShardRange.Of(rows, shards, shard);
            backend.Fill(_gradients[shard], 0f);
            _loss[shard] = _flow.AccumulateReverseKlGradients(_contexts[shard], tz.SliceRows(range.Start, range.Count), _target, weight,
                weights.AsSpan(range.Start, range.Count));
        });
        double loss = _loss[0];
        for (int s = 1; s < shards; s++)
        {
            backend.AddScaled(_gradients[s], 1f, _gradients[0]);
            loss += _loss[s];
        }
        weights.CopyTo(logWeights);
        return loss;
    }
}
