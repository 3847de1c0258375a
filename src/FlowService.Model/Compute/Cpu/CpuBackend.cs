namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The CPU backend: managed float arrays, SIMD kernels, single-threaded per call. Parallelism
/// lives one level up (a batch is split into shards that run on separate cores), because small
/// flow-sized operations cost less than the 2-5 µs a parallel loop spends to start. The one
/// exception: a large GEMM called outside any shard spreads its rows over the idle shard runner.
/// </summary>
public sealed partial class CpuBackend : IBackend
{
    public static CpuBackend Instance { get; } = new();

    public string Name => "cpu";

    public Tensor Allocate(int rows, int cols)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        return new Tensor(new CpuStorage(this, new float[checked(rows * cols)]), 0, rows, cols);
    }

    public void Upload(ReadOnlySpan<float> source, Tensor destination)
    {
        RequireLength(destination, source.Length);
        source.CopyTo(destination.Span());
    }

    public void Download(Tensor source, Span<float> destination)
    {
        RequireLength(source, destination.Length);
        source.Span().CopyTo(destination);
    }

    public void Copy(Tensor source, Tensor destination)
    {
        RequireSameShape(source, destination);
        source.Span().CopyTo(destination.Span());
    }

    public void Fill(Tensor destination, float value) => destination.Span().Fill(value);

    internal static void RequireLength(Tensor tensor, int length)
    {
        if (tensor.Length != length)
            throw new ArgumentException($"{tensor} holds {tensor.Length} floats, not {length}.");
    }

    internal static void RequireSameShape(Tensor a, Tensor b)
    {
        if (!a.SameShape(b))
            throw new ArgumentException($"Shapes differ: {a.Rows}x{a.Cols} vs {b.Rows}x{b.Cols}.");
    }
}
