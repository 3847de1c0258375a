namespace FlowService.Model.Checkpoints;

/// <summary>The content of a safetensors file: tensors by name and the string metadata ("__metadata__").</summary>
public sealed class SafeTensorsFile
{
    public SafeTensorsFile(IEnumerable<SafeTensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var byName = new SortedDictionary<string, SafeTensor>(StringComparer.Ordinal);
        foreach (var tensor in tensors)
        {
            if (!byName.TryAdd(tensor.Name, tensor))
                throw new ArgumentException($"Tensor '{tensor.Name}' appears twice.", nameof(tensors));
        }
        Tensors = byName;
        Metadata = new SortedDictionary<string, string>(metadata?.ToDictionary() ?? new Dictionary<string, string>(), StringComparer.Ordinal);
    }

    /// <summary>Tensors sorted by name (ordinal), the order they are laid out in the file.</summary>
    public IReadOnlyDictionary<string, SafeTensor> Tensors { get; }

    public IReadOnlyDictionary<string, string> Metadata { get; }

    public SafeTensor this[string name] =>
        Tensors.TryGetValue(name, out var tensor) ? tensor : throw new KeyNotFoundException($"The safetensors file has no tensor '{name}'.");
}
