namespace FlowService.Model.Compute;

/// <summary>
/// One allocation of float32 memory owned by a backend: a managed array on the CPU, a device
/// pointer on a GPU. Tensors are views into storages.
/// </summary>
public abstract class TensorStorage : IDisposable
{
    protected TensorStorage(IBackend backend, int length)
    {
        Backend = backend;
        Length = length;
    }

    public IBackend Backend { get; }

    /// <summary>Length in floats.</summary>
    public int Length { get; }

    public virtual void Dispose() => GC.SuppressFinalize(this);
}
