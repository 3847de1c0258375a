namespace FlowService.Model.Checkpoints;

/// <summary>One float32 tensor of a safetensors file: its name, shape (1-D, 2-D, ...) and row-major values.</summary>
public sealed record SafeTensor(string Name, int[] Shape, float[] Values)
{
    /// <summary>The number of elements the shape describes (1 for a scalar, shape []).</summary>
    public long ElementCount => Shape.Aggregate(1L, (n, d) => n * d);
}
