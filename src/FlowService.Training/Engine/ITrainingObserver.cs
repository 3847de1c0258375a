using FlowService.Training.Jobs;

namespace FlowService.Training.Engine;

/// <summary>What an engine reports while it trains: where a resumed run picked up, and each finished epoch.</summary>
public interface ITrainingObserver
{
    /// <summary>Training continues from a saved state after <paramref name="completedEpochs"/> epochs.</summary>
    void Resumed(int completedEpochs);

    void EpochFinished(EpochRecord epoch);
}
