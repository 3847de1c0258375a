using FlowService.Model.Targets.Expressions;

namespace FlowService.Model.Targets;

/// <summary>
/// An unnormalized log-density log p̃(x) over D dimensions, the target of a reverse-KL fit: a compiled
/// expression (a user's, or the one a built-in target expands to), its log normalizer log Z = log ∫ p̃
/// where it is known, and for mixtures the component means, so that a fit can report the modes it found.
/// </summary>
public sealed class TargetDensity(string name, CompiledExpression expression, double? logNormalizer,
    IReadOnlyList<double[]>? modes = null, IReadOnlyList<double>? modeWeights = null)
{
    /// <summary>The built-in target's name, or "expression".</summary>
    public string Name { get; } = name;

    public CompiledExpression Expression { get; } = expression;

    public int Dimensions => Expression.Dimensions;

    /// <summary>log ∫ p̃(x) dx when known in closed form (or by a one- or two-dimensional quadrature to 1e-6), else null.</summary>
    public double? LogNormalizer { get; } = logNormalizer;

    /// <summary>The means of a mixture's components, or empty.</summary>
    public IReadOnlyList<double[]> Modes { get; } = modes ?? [];

    /// <summary>The mixture weights of <see cref="Modes"/>, normalized to sum 1.</summary>
    public IReadOnlyList<double> ModeWeights { get; } = modeWeights ?? [];

    /// <summary>log p̃ per row of <paramref name="x"/> (rows x D) and, unless <paramref name="gradient"/> is empty, ∇ log p̃ (overwritten).</summary>
    public void LogDensity(ReadOnlySpan<float> x, int rows, Span<double> logDensity, Span<double> gradient) =>
        Expression.Evaluate(x, rows, logDensity, gradient);
}
