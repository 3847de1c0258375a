using System.Text.Json;

namespace FlowService.Training.Engine;

/// <summary>
/// The outcome of an "auto" search: the chosen candidate's name and spec, and every candidate's result in the list's order
/// (simplest first; they may have trained in another, <see cref="AutoFlowSearch.TrainingOrder"/>);
/// <see cref="Folds"/> when the candidates were compared by k-fold cross-validation over all the job's rows (their
/// <see cref="CandidateResult.ValidationNll"/> is then the out-of-fold NLL of those rows), null when on the validation rows.
/// </summary>
public sealed record AutoSelection(string Chosen, JsonElement ChosenSpec, IReadOnlyList<CandidateResult> Candidates, int? Folds = null);
