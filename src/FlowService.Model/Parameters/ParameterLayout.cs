namespace FlowService.Model.Parameters;

/// <summary>
/// The table (name, shape, offset) describing one flat arena. Parameters, their gradients and
/// the optimizer's moments are each one allocation with this layout, so zeroing gradients is
/// one fill and an Adam step is one loop (llm.c style).
/// </summary>
public sealed class ParameterLayout
{
    private readonly List<ParameterSlot> _slots = new();
    private readonly Dictionary<string, ParameterSlot> _byName = new(StringComparer.Ordinal);

    public IReadOnlyList<ParameterSlot> Slots => _slots;

    /// <summary>Total floats in the arena.</summary>
    public int Length { get; private set; }

    /// <summary>Appends a slot; names must be unique. Slots are 16-float aligned for SIMD loads.</summary>
    public ParameterSlot Add(string name, int rows, int cols)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (rows <= 0 || cols <= 0)
            throw new ArgumentOutOfRangeException(nameof(rows), $"Parameter '{name}' must have a positive shape, not {rows}x{cols}.");
        if (_byName.ContainsKey(name))
            throw new ArgumentException($"Parameter '{name}' is declared twice.", nameof(name));
        int offset = (Length + 15) & ~15;
        var slot = new ParameterSlot(name, rows, cols, offset);
        _slots.Add(slot);
        _byName.Add(name, slot);
        Length = offset + rows * cols;
        return slot;
    }

    public ParameterSlot this[string name] =>
        _byName.TryGetValue(name, out var slot) ? slot : throw new KeyNotFoundException($"No parameter named '{name}'.");

    public bool TryGet(string name, out ParameterSlot slot) => _byName.TryGetValue(name, out slot!);

    /// <summary>A scope that prefixes names ("layers.3." + "scale"), so a transform declares its parameters without knowing where it sits.</summary>
    public ParameterScope Scope(string prefix) => new(this, prefix);
}
