namespace FlowService.Training.Jobs;

/// <summary>The "training" object of POST /jobs; every field has a default.</summary>
public sealed record TrainingParameters
{
    public int Epochs { get; init; } = 50;

    public int BatchSize { get; init; } = 256;

    public double LearningRate { get; init; } = 1e-3;

    public double WeightDecay { get; init; }

    /// <summary>Share of the rows held out for early stopping and anomaly calibration.</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Share of the rows held out to report an unbiased test NLL; never used for training or stopping.</summary>
    public double TestFraction { get; init; } = 0.1;

    /// <summary>Epochs without a better validation NLL before training stops.</summary>
    public int Patience { get; init; } = 10;

    public int Seed { get; init; } = 1;

    /// <summary>Largest global gradient norm; 0 turns clipping off.</summary>
    public double GradClip { get; init; } = 5.0;

    /// <summary>
    /// The learning rate over the run: "cosine" (decays to 1% of <see cref="LearningRate"/> at the last
    /// epoch), "constant", or "step" (multiplied by <see cref="StepGamma"/> every <see cref="StepEpochs"/> epochs).
    /// </summary>
    public string Schedule { get; init; } = "cosine";

    /// <summary>
    /// Optimizer steps over which the rate rises linearly from rate/warmupSteps to the schedule's (0: none). Deep
    /// flows on images need it: full-rate Adam steps on fresh couplings can blow the first batches' scales up.
    /// </summary>
    public int WarmupSteps { get; init; }

    /// <summary>Epochs between learning-rate drops of the "step" schedule.</summary>
    public int StepEpochs { get; init; } = 10;

    /// <summary>Factor of each drop of the "step" schedule.</summary>
    public double StepGamma { get; init; } = 0.5;

    public static readonly string[] Schedules = ["cosine", "constant", "step"];

    /// <summary>The first field that is out of range, as (field, message), or null when all are valid.</summary>
    public (string Field, string Message)? FindError()
    {
        if (Epochs is < 1 or > 100_000) return ("training.epochs", "must be between 1 and 100000");
        if (BatchSize is < 1 or > 1_000_000) return ("training.batchSize", "must be between 1 and 1000000");
        if (!(LearningRate > 0 && LearningRate < 10)) return ("training.learningRate", "must be in (0, 10)");
        if (!(WeightDecay >= 0 && WeightDecay < 10)) return ("training.weightDecay", "must be in [0, 10)");
        if (!(ValidationFraction > 0 && ValidationFraction < 0.9)) return ("training.validationFraction", "must be in (0, 0.9)");
        if (!(TestFraction >= 0 && TestFraction < 0.9)) return ("training.testFraction", "must be in [0, 0.9)");
        if (ValidationFraction + TestFraction >= 0.95) return ("training.testFraction", "validationFraction + testFraction must leave rows to train on (< 0.95)");
        if (Patience < 1) return ("training.patience", "must be at least 1");
        if (!(GradClip >= 0) || double.IsInfinity(GradClip)) return ("training.gradClip", "must be a finite number >= 0 (0 = no clipping)");
        if (!Schedules.Contains(Schedule)) return ("training.schedule", $"must be one of {string.Join(", ", Schedules.Select(s => $"\"{s}\""))}");
        if (WarmupSteps is < 0 or > 1_000_000) return ("training.warmupSteps", "must be between 0 and 1000000");
        if (StepEpochs < 1) return ("training.stepEpochs", "must be at least 1");
        if (!(StepGamma > 0 && StepGamma <= 1)) return ("training.stepGamma", "must be in (0, 1]");
        return null;
    }
}
