namespace FlowService.Training.Registry;

/// <summary>
/// How a reverse-KL fit ended, measured on <see cref="Samples"/> fresh samples of the best weights: the target,
/// log Ẑ (importance sampling) with its standard error, the normalized effective sample size, the reverse-KL
/// estimate E_q[log q - log p̃], the true log Z where the target's is known, and for mixtures how many of the
/// <see cref="Modes"/> components received at least a tenth of their weight's share of the samples (nearest mean).
/// </summary>
public sealed record TargetFitMetrics(
    string Target,
    int Dimensions,
    double LogZ,
    double LogZStandardError,
    double EffectiveSampleSize,
    double ReverseKl,
    int Samples,
    double? KnownLogZ,
    int? ModesFound,
    int? Modes);
