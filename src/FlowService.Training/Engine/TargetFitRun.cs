using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Engine;

/// <summary>One reverse-KL fit: the flow spec, the target object (<c>TargetSpec</c> JSON), the training parameters and the resumable state's folder.</summary>
public sealed record TargetFitRun(JsonElement Spec, JsonElement Target, TrainingParameters Parameters, string StateFolder);
