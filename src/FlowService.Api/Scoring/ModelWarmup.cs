using FlowService.Training.Engine;

namespace FlowService.Api.Scoring;

/// <summary>
/// Runs a freshly loaded model once through every operation, one row and a full batch, before it takes traffic:
/// the JIT compiles the kernels, the engine sizes its workspaces and the batcher's path runs. It also checks the
/// arithmetic: a checkpoint that computes NaN log p for typical samples of its own (drawn at
/// <see cref="CheckTemperature"/>) is refused with a 409 problem instead of served. Samples at temperature 1 reach the
/// model's far tails, where an image flow trained briefly can overflow float32 for a few of them; those are counted
/// (the caller logs them) but do not stop the model, whose /score answers null and flags such a row. Both checks run on
/// the flow alone: a served density with a defensive component would score those rows at the component's floor and hide
/// the broken arithmetic (such a row's served score is that floor, which flags it).
/// </summary>
public static class ModelWarmup
{
    /// <summary>The base-noise temperature of the samples that must all score a number.</summary>
    public const float CheckTemperature = 0.5f;

    /// <summary>Runs the model; returns how many of its temperature-1 samples scored NaN, out of how many.</summary>
    public static (int TailNaN, int Rows) Run(ServedModel served, int batchRows)
    {
        var flow = served.Flow;
        var flowAlone = flow is TrainedFlow { Defensive: not null } trained ? trained.WithDefensive(null) : flow;
        int d = flow.Features, c = flow.ContextFeatures, rows = Math.Clamp(batchRows, 1, 4096);
        var context = new float[rows * c];
        var x = new float[rows * d];
        var logProb = new float[rows];
        flowAlone.Sample(rows, 1, CheckTemperature, context, x);
        flowAlone.LogProb(x, rows, context, logProb);
        if (logProb.Any(float.IsNaN))
            throw new ModelUnavailableException(
                $"Model '{served.Version.Model}' v{served.Version.Version} is not served: it computes NaN log p for typical samples of its own " +
                $"(temperature {CheckTemperature}), so its weights or its arithmetic are broken.");
        flowAlone.Sample(rows, 2, 1f, context, x);
        flowAlone.LogProb(x, rows, context, logProb);
        int tailNaN = logProb.Count(float.IsNaN);
        var z = new float[rows * d];
        var logDet = new float[rows];
        flow.Encode(x, rows, context, z, logDet);
        flow.Decode(z, rows, context, x);
        var one = new float[1];
        served.Score.RunAsync(x, context, 1, one, [], CancellationToken.None).GetAwaiter().GetResult();
        return (tailNaN, rows);
    }
}
