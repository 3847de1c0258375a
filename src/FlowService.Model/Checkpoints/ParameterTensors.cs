using FlowService.Model.Parameters;

namespace FlowService.Model.Checkpoints;

/// <summary>
/// Converts between a flat parameter arena and named safetensors tensors with the PyTorch
/// reference modules' shapes: every slot is [rows, cols] except biases (names ending in
/// <c>.bias</c>, stored 1 x n in the arena), which are 1-D [n] as in <c>nn.Linear</c>.
/// ActNorm and LU <c>shift</c>/<c>logScale</c> stay [1, D] (the reference registers them 2-D).
/// </summary>
public static class ParameterTensors
{
    public static int[] ShapeOf(ParameterSlot slot) =>
        slot.Rows == 1 && slot.Name.EndsWith(".bias", StringComparison.Ordinal) ? [slot.Cols] : [slot.Rows, slot.Cols];

    /// <summary>One tensor per slot, named <paramref name="prefix"/> + the slot's name.</summary>
    public static IEnumerable<SafeTensor> FromArena(ParameterLayout layout, ReadOnlySpan<float> arena, string prefix = "")
    {
        if (arena.Length != layout.Length)
            throw new ArgumentException($"The arena holds {arena.Length} floats; the layout needs {layout.Length}.", nameof(arena));
        var tensors = new List<SafeTensor>(layout.Slots.Count);
        foreach (var slot in layout.Slots)
            tensors.Add(new SafeTensor(prefix + slot.Name, ShapeOf(slot), arena.Slice(slot.Offset, slot.Length).ToArray()));
        return tensors;
    }

    /// <summary>
    /// Fills an arena from the tensors named <paramref name="prefix"/> + slot name. Every slot must be
    /// present with its shape, and no other tensor may carry the prefix: a checkpoint of a different
    /// architecture fails here, naming the first mismatch.
    /// </summary>
    public static float[] ToArena(ParameterLayout layout, SafeTensorsFile file, string prefix = "")
    {
        var arena = new float[layout.Length];
        foreach (var slot in layout.Slots)
        {
            string name = prefix + slot.Name;
            if (!file.Tensors.TryGetValue(name, out var tensor))
                throw new CheckpointCorruptException($"The checkpoint has no tensor '{name}' that the model needs.");
            int[] expected = ShapeOf(slot);
            if (!tensor.Shape.SequenceEqual(expected))
                throw new CheckpointCorruptException($"Tensor '{name}' has shape [{string.Join(", ", tensor.Shape)}]; the model needs [{string.Join(", ", expected)}].");
            tensor.Values.CopyTo(arena, slot.Offset);
        }
        var extra = file.Tensors.Keys.FirstOrDefault(k => k.StartsWith(prefix, StringComparison.Ordinal) && !layout.TryGet(k[prefix.Length..], out _));
        if (extra is not null)
            throw new CheckpointCorruptException($"The checkpoint has a tensor '{extra}' that the model does not declare (a different architecture?).");
        return arena;
    }
}
