using System.Text.Json;

namespace FlowService.Training.Engine;

/// <summary>
/// How one candidate of the "auto" search did: its spec, the validation NLL of its best weights
/// (with its defensive mixture, as it would be served), epochs, wall time, and why it was skipped if it was.
/// </summary>
public sealed record CandidateResult(string Name, JsonElement Spec, double? ValidationNll, int EpochsRun, int BestEpoch, double Seconds, string? Skipped = null);
