namespace FlowService.Model.Parameters;

/// <summary>A view of a <see cref="ParameterLayout"/> that prefixes every name it declares.</summary>
public readonly struct ParameterScope
{
    private readonly ParameterLayout _layout;
    private readonly string _prefix;

    public ParameterScope(ParameterLayout layout, string prefix)
    {
        _layout = layout;
        _prefix = prefix.Length == 0 || prefix.EndsWith('.') ? prefix : prefix + ".";
    }

    public ParameterSlot Add(string name, int rows, int cols) => _layout.Add(_prefix + name, rows, cols);

    public ParameterScope Scope(string name) => new(_layout, _prefix + name);
}
