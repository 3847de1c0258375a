using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Engine;

/// <summary>One flow the "auto" search trains: its concrete spec and the training settings adapted to the data.</summary>
public sealed record AutoCandidate(string Name, JsonElement Spec, TrainingParameters Parameters);
