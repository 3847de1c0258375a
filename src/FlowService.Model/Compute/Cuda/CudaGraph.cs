namespace FlowService.Model.Compute.Cuda;

/// <summary>
/// A recorded sequence of backend ops (a CUDA graph) that replays with one launch: the many small
/// kernels of a flow step then cost one submission instead of one each. Replays read and write the
/// same device memory the ops were recorded with; change inputs by uploading into those tensors.
/// </summary>
public sealed class CudaGraph : IDisposable
{
    private readonly CudaBackend _backend;
    private IntPtr _graph, _exec;

    internal CudaGraph(CudaBackend backend, IntPtr graph, IntPtr exec)
    {
        _backend = backend;
        _graph = graph;
        _exec = exec;
    }

    /// <summary>Queues one replay on the backend's stream (asynchronous, like every op).</summary>
    public void Launch()
    {
        ObjectDisposedException.ThrowIf(_exec == IntPtr.Zero, this);
        _backend.LaunchGraph(_exec);
    }

    public void Dispose()
    {
        IntPtr exec = Interlocked.Exchange(ref _exec, IntPtr.Zero), graph = Interlocked.Exchange(ref _graph, IntPtr.Zero);
        if (exec != IntPtr.Zero || graph != IntPtr.Zero)
            _backend.DestroyGraph(exec, graph);
    }
}
