using FlowService.Training.Engine;

namespace FlowService.Api.Scoring;

/// <summary>
/// Runs a freshly loaded model once through every operation, one row and a full batch, before it takes traffic:
/// the JIT compiles the kernels, the engine sizes its workspaces, the batcher's path runs, and a checkpoint that
/// loads but computes NaN on its own samples is refused instead of served.
/// </summary>
public static class ModelWarmup
{
    public static void Run(ServedModel served, int batchRows)
    {
        var flow = served.Flow;
        int d = flow.Features, c = flow.ContextFeatures, rows = Math.Clamp(batchRows, 1, 4096);
        var context = new float[rows * c];
        var x = new float[rows * d];
        flow.Sample(rows, 1, 1f, context, x);
        var logProb = new float[rows];
        flow.LogProb(x, rows, context, logProb);
        if (logProb.Any(float.IsNaN))
            throw new InvalidOperationException($"Model {served.Version.Model} v{served.Version.Version} computes NaN log p for its own samples at warm-up; it is not served.");
        var z = new float[rows * d];
        var logDet = new float[rows];
        flow.Encode(x, rows, context, z, logDet);
        flow.Decode(z, rows, context, x);
        var one = new float[1];
        served.Score.RunAsync(x, context, 1, one, [], CancellationToken.None).GetAwaiter().GetResult();
    }
}
