namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// Device memory: one cuMemAlloc'ed block of float32, freed on <see cref="Dispose"/> (or, as a last
/// resort, by the finalizer, so a forgotten workspace does not leak GPU memory for the process's life).
/// </summary>
public sealed class CudaStorage : TensorStorage
{
    private readonly CudaBackend _backend;
    private ulong _pointer;

    internal CudaStorage(CudaBackend backend, ulong pointer, int length) : base(backend, length)
    {
        _backend = backend;
        _pointer = pointer;
    }

    ~CudaStorage() => Release();

    /// <summary>The device address of element 0 (0 for an empty storage).</summary>
    public ulong Pointer => _pointer != 0 || Length == 0 ? _pointer : throw new ObjectDisposedException(nameof(CudaStorage));

    public override void Dispose()
    {
        Release();
        base.Dispose();
    }

    private void Release()
    {
        ulong pointer = Interlocked.Exchange(ref _pointer, 0);
        if (pointer != 0)
            _backend.Free(pointer);
    }
}
