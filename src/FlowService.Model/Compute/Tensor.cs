namespace FlowService.Model.Compute;

/// <summary>
/// A 2-D float32 matrix, batch-first and row-major (row stride = <see cref="Cols"/>), living in
/// storage owned by one <see cref="IBackend"/>. A tensor is either a whole allocation or a view
/// (a contiguous run of rows, or a slot of a parameter arena) into a larger one.
/// </summary>
/// <remarks>
/// Flow code never touches the elements: it passes tensors to backend operations, so the same
/// transform runs on the CPU and on a GPU. Only the CPU backend and tests read the memory, through
/// <see cref="CpuTensorExtensions.Span"/>.
/// </remarks>
public sealed class Tensor
{
    public Tensor(TensorStorage storage, int offset, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(storage);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if ((long)offset + (long)rows * cols > storage.Length)
            throw new ArgumentOutOfRangeException(nameof(rows), $"A {rows}x{cols} view at offset {offset} exceeds its storage of {storage.Length} floats.");
        Storage = storage;
        Offset = offset;
        Rows = rows;
        Cols = cols;
    }

    public TensorStorage Storage { get; }

    /// <summary>Offset of element [0, 0] in floats from the start of <see cref="Storage"/>.</summary>
    public int Offset { get; }

    public int Rows { get; }

    public int Cols { get; }

    public int Length => Rows * Cols;

    public IBackend Backend => Storage.Backend;

    /// <summary>Rows [start, start + count) as a view; batch shards are made this way.</summary>
    public Tensor SliceRows(int start, int count)
    {
        if ((uint)start > (uint)Rows || (uint)count > (uint)(Rows - start))
            throw new ArgumentOutOfRangeException(nameof(count), $"Rows [{start}, {start + count}) are outside a tensor of {Rows} rows.");
        return new Tensor(Storage, Offset + start * Cols, count, Cols);
    }

    /// <summary>The same memory seen with another shape of equal length (e.g. a flat parameter slot as rows x cols).</summary>
    public Tensor Reshape(int rows, int cols)
    {
        if ((long)rows * cols != Length)
            throw new ArgumentException($"Cannot view {Rows}x{Cols} as {rows}x{cols}.");
        return new Tensor(Storage, Offset, rows, cols);
    }

    public bool SameShape(Tensor other) => Rows == other.Rows && Cols == other.Cols;

    public override string ToString() => $"Tensor[{Rows}x{Cols}] on {Backend.Name}";
}
