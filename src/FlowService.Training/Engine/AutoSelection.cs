using System.Text.Json;

namespace FlowService.Training.Engine;

/// <summary>The outcome of an "auto" search: the chosen candidate's name and spec, and every candidate's result in the order tried.</summary>
public sealed record AutoSelection(string Chosen, JsonElement ChosenSpec, IReadOnlyList<CandidateResult> Candidates);
