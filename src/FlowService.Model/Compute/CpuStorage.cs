namespace FlowService.Model.Compute;

/// <summary>CPU storage: a managed float array (pinned-free; kernels take spans).</summary>
public sealed class CpuStorage : TensorStorage
{
    public CpuStorage(IBackend backend, float[] data) : base(backend, data.Length) => Data = data;

    public float[] Data { get; }
}
