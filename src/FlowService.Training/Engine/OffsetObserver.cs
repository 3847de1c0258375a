using FlowService.Training.Jobs;

namespace FlowService.Training.Engine;

/// <summary>Numbers a run's epochs after those of the runs before it (earlier candidates, earlier folds), so the job's history is one sequence.</summary>
internal sealed class OffsetObserver(ITrainingObserver inner, int offset) : ITrainingObserver
{
    public void Resumed(int completedEpochs) => inner.Resumed(offset + completedEpochs);

    public void EpochFinished(EpochRecord epoch) => inner.EpochFinished(epoch with { Epoch = offset + epoch.Epoch });
}
