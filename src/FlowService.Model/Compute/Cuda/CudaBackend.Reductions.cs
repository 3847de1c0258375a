namespace FlowService.Model.Compute.Cuda;

public sealed unsafe partial class CudaBackend
{
    // Scratch for the per-chunk partial sums; grown on demand (outside a graph capture: run an op once
    // before capturing it). The two launches of one reduction hold the gate, so a second thread's
    // reduction cannot overwrite the partials in between on the shared stream.
    private readonly Lock _scratchGate = new();
    private ulong _scratch;
    private long _scratchFloats;

    /// <summary>destination[j] += Σ_r values[r, j] (destination holds values.Cols floats), deterministic.</summary>
    internal void AccumulateColumnSums(Tensor values, Tensor destination)
    {
        RequireLength(destination, values.Cols);
        if (values.Length == 0)
            return;
        long rows = values.Rows, chunk = ReductionKernels.RowsPerChunk;
        int cols = values.Cols, chunks = (int)((rows + chunk - 1) / chunk);
        CudaKernel partialSums = Kernel(ReductionKernels.Source, "column_partial_sums");
        CudaKernel addChunks = Kernel(ReductionKernels.Source, "add_chunk_sums");
        ulong source = Pointer(values), target = Pointer(destination);
        lock (_scratchGate)
        {
            ulong partial = Scratch((long)chunks * cols);
            void** first = stackalloc void*[] { &source, &rows, &cols, &chunk, &partial };
            Launch2D(partialSums, (uint)((cols + ReductionKernels.ColumnTile - 1) / ReductionKernels.ColumnTile), (uint)chunks,
                ReductionKernels.ColumnTile, ReductionKernels.RowLanes, first);
            void** second = stackalloc void*[] { &partial, &chunks, &cols, &target };
            Launch(addChunks, cols, second);
        }
    }

    private ulong Scratch(long floats)
    {
        if (floats <= _scratchFloats)
            return _scratch;
        MakeCurrent();
        if (_scratch != 0)
            _driver.MemFree(_scratch);   // cuMemFree waits for queued work that may still read it
        _scratch = _driver.MemAlloc(floats * 4);
        _scratchFloats = floats;
        return _scratch;
    }
}
