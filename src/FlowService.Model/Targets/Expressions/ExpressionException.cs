namespace FlowService.Model.Targets.Expressions;

/// <summary>
/// A log-density expression that cannot be compiled: what is wrong, and where (<see cref="Position"/>,
/// the 0-based character offset of the offending token in the source, and its <see cref="Length"/>).
/// </summary>
public sealed class ExpressionException(string message, int position, int length) : Exception(message)
{
    public int Position { get; } = position;

    public int Length { get; } = length;
}
