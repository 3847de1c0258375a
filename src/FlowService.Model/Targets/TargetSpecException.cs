namespace FlowService.Model.Targets;

/// <summary>
/// A target spec that cannot be built: the field that is wrong as a JSON path under the target object
/// ("name", "parameters.scale", "expression"), and for expressions the 0-based character
/// <see cref="Position"/> of the offending token.
/// </summary>
public sealed class TargetSpecException(string field, string message, int? position = null) : Exception(message)
{
    public string Field { get; } = field;

    public int? Position { get; } = position;
}
