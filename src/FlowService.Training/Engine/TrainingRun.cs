using System.Text.Json;
using FlowService.Training.Jobs;

namespace FlowService.Training.Engine;

/// <summary>
/// One training run: spec, data, parameters, and the folder where the engine keeps its resumable
/// state (written atomically every epoch; a run finding state there continues from it).
/// </summary>
public sealed record TrainingRun(JsonElement Spec, DatasetSplit Data, TrainingParameters Parameters, string StateFolder);
