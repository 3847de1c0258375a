namespace FlowService.Training.Engine;

/// <summary>An engine that can also fit a flow to an unnormalized density (reverse KL) instead of to data.</summary>
public interface IReverseKlEngine
{
    /// <summary>Trains a generative flow on the run's target until the epochs run out or early stopping, then measures the best weights.</summary>
    TargetFitOutcome FitTarget(TargetFitRun run, ITrainingObserver observer, CancellationToken cancellationToken);
}
