namespace FlowService.Model.Flows;

/// <summary>A flow spec the engine cannot build, with the field that is wrong (a JSON property name, or "type").</summary>
public sealed class FlowSpecException : Exception
{
    public FlowSpecException(string field, string message) : base(message) => Field = field;

    public string Field { get; }
}
