namespace FlowService.Model.Compute;

/// <summary>Element access for tensors that live in CPU memory (the CPU backend, tests, host I/O).</summary>
public static class CpuTensorExtensions
{
    public static Span<float> Span(this Tensor tensor)
    {
        if (tensor.Storage is not CpuStorage cpu)
            throw new InvalidOperationException($"{tensor} is not in CPU memory; download it first.");
        return cpu.Data.AsSpan(tensor.Offset, tensor.Length);
    }

    /// <summary>Row <paramref name="row"/> of a CPU tensor.</summary>
    public static Span<float> Row(this Tensor tensor, int row) => tensor.Span().Slice(row * tensor.Cols, tensor.Cols);
}
