using FlowService.Model.Compute;
using FlowService.Model.Compute.Parallel;
using FlowService.Model.Flows;
using FlowService.Model.Transforms;
using FlowService.Training.Optimization;

namespace FlowService.Bench;

/// <summary>
/// What a trainer does per batch, as the service trains (docs/ENGINE.md, "sharded training"):
/// gather the batch's rows from the training set, forward + backward of the mean NLL with the batch
/// split over the cores (each shard its own context and gradient arena, arenas summed), global-norm
/// clipping (the service's default gradClip 5) and one AdamW step (Adam: weight decay 0, as torch_bench).
/// </summary>
internal sealed class ShardedTrainingStep
{
    public const double GradientClip = 5.0;
    public const double LearningRate = 1e-3;

    private readonly NormalizingFlow _flow;
    private readonly float[] _data;
    private readonly int _dataRows;
    private readonly int _batch;
    private readonly ShardRunner _runner;
    private readonly FlowContext[] _contexts;
    private readonly Tensor[] _gradients;
    private readonly double[] _shardNll;
    private readonly Tensor _batchRows;
    private readonly float[] _gathered;
    private readonly AdamW _optimizer;
    private int[] _order;
    private int _cursor;
    private int _epoch;

    /// <param name="data">The training set, <paramref name="dataRows"/> x Features row-major; batches walk a seeded shuffle of it.</param>
    public ShardedTrainingStep(NormalizingFlow flow, float[] data, int dataRows, int batch, ShardRunner runner)
    {
        _flow = flow;
        _data = data;
        _dataRows = dataRows;
        _batch = batch;
        _runner = runner;
        int shards = Math.Max(1, Math.Min(runner.Degree, batch / 64));
        _contexts = new FlowContext[shards];
        _gradients = new Tensor[shards];
        for (int s = 0; s < shards; s++)
        {
            _gradients[s] = flow.AllocateGradients();
            _contexts[s] = flow.CreateTrainingContext(_gradients[s]);
        }
        _shardNll = new double[shards];
        _batchRows = flow.Backend.Allocate(batch, flow.Features);
        _gathered = new float[batch * flow.Features];
        _optimizer = new AdamW(flow.Backend, flow.Parameters.Length, new AdamWOptions());
        _order = SeededShuffle.ForEpoch(dataRows, seed: 1, epoch: 0);
    }

    public int Shards => _contexts.Length;

    /// <summary>Mean NLL of the batch just trained on (before the step).</summary>
    public double LastLoss { get; private set; }

    /// <summary>The global gradient norm before clipping, of the last step.</summary>
    public double LastGradientNorm { get; private set; }

    public void Run()
    {
        var backend = _flow.Backend;
        GatherBatch();
        backend.Upload(_gathered, _batchRows);
        _runner.Run(Shards, new ShardBody(this));
        for (int s = 1; s < Shards; s++)
            backend.AddScaled(_gradients[s], 1f, _gradients[0]);
        double norm = GradientClipping.GlobalNorm(backend, _gradients[0]);
        float coefficient = GradientClipping.Coefficient(norm, GradientClip);
        _optimizer.Update(_flow.Parameters, _gradients[0], LearningRate, coefficient);
        double nll = 0;
        foreach (double value in _shardNll)
            nll += value;
        LastLoss = nll / _batch;
        LastGradientNorm = norm;
    }

    private void GatherBatch()
    {
        int d = _flow.Features;
        if (_cursor + _batch > _dataRows)
        {
            _order = SeededShuffle.ForEpoch(_dataRows, seed: 1, epoch: ++_epoch);
            _cursor = 0;
        }
        for (int i = 0; i < _batch; i++)
            _data.AsSpan(_order[_cursor + i] * d, d).CopyTo(_gathered.AsSpan(i * d, d));
        _cursor += _batch;
    }

    private void RunShard(int shard)
    {
        var rows = ShardRange.Of(_batch, Shards, shard);
        _flow.Backend.Fill(_gradients[shard], 0f);
        _shardNll[shard] = _flow.AccumulateGradients(_contexts[shard], _batchRows.SliceRows(rows.Start, rows.Count), null, 1f / _batch);
    }

    private readonly struct ShardBody(ShardedTrainingStep step) : IShardBody
    {
        public void Run(int shard) => step.RunShard(shard);
    }
}
