using FlowService.Training.Jobs;

namespace FlowService.Training.Engine;

/// <summary>Reports nothing: for training that only replays finished state, whose epochs the job has already recorded.</summary>
internal sealed class SilentObserver : ITrainingObserver
{
    public static readonly SilentObserver Instance = new();

    public void EpochFinished(EpochRecord record) { }

    public void Resumed(int epoch) { }
}
