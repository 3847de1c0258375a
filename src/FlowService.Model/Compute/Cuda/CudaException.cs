namespace FlowService.Model.Compute.Cuda;

/// <summary>A failed CUDA driver, NVRTC or cuBLAS call, named with its status and the library's own description.</summary>
public sealed class CudaException : Exception
{
    public CudaException(string message) : base(message)
    {
    }
}
