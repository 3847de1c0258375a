namespace FlowService.Model.Compute.Cuda;

public sealed unsafe partial class CudaBackend
{
    /// <summary>
    /// Records the ops <paramref name="enqueue"/> queues (on this thread) into a replayable
    /// <see cref="CudaGraph"/> instead of running them. Inside, only queueing ops are allowed: no
    /// <see cref="Allocate"/>, <see cref="Download"/> or <see cref="Synchronize"/>; and every kernel the
    /// ops use must have run once before (so NVRTC compiles outside the capture).
    /// </summary>
    public CudaGraph Capture(Action enqueue)
    {
        ArgumentNullException.ThrowIfNull(enqueue);
        MakeCurrent();
        _driver.BeginCapture(_stream);
        IntPtr graph;
        try
        {
            enqueue();
        }
        catch
        {
            _driver.TryEndCapture(_stream, out graph);
            if (graph != IntPtr.Zero)
                _driver.TryGraphDestroy(graph);
            throw;
        }
        int status = _driver.TryEndCapture(_stream, out graph);
        _driver.Check(status, "cuStreamEndCapture (an op inside the capture was not capturable: allocation, download or synchronize?)");
        try
        {
            return new CudaGraph(this, graph, _driver.GraphInstantiate(graph));
        }
        catch
        {
            _driver.TryGraphDestroy(graph);
            throw;
        }
    }

    internal void LaunchGraph(IntPtr exec)
    {
        MakeCurrent();
        _driver.GraphLaunch(exec, _stream);
    }

    internal void DestroyGraph(IntPtr exec, IntPtr graph)
    {
        MakeCurrent();
        if (exec != IntPtr.Zero)
            _driver.TryGraphExecDestroy(exec);
        if (graph != IntPtr.Zero)
            _driver.TryGraphDestroy(graph);
    }
}
