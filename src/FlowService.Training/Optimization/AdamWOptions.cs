namespace FlowService.Training.Optimization;

/// <summary>AdamW hyper-parameters with torch.optim.AdamW's defaults except weight decay (0 here: plain Adam).</summary>
public sealed record AdamWOptions
{
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    public double Epsilon { get; init; } = 1e-8;

    /// <summary>Decoupled weight decay (Loshchilov and Hutter 2019); 0 makes the step plain Adam.</summary>
    public double WeightDecay { get; init; }
}
