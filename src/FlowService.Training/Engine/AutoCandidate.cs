using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Engine;

/// <summary>One flow the "auto" search trains: its concrete spec and the training settings adapted to the data.</summary>
/// <param name="Early">Trained right after the first candidate although listed later (<see cref="AutoFlowSearch.TrainingOrder"/>):
/// the likely winner on data large enough that the time budget may not reach the end of the list. Its place in the list,
/// which the one-standard-error rule reads as simplicity, is unchanged.</param>
public sealed record AutoCandidate(string Name, JsonElement Spec, TrainingParameters Parameters, bool Early = false);
