namespace FlowService.Model.Compute.Cuda;

/// <summary>A compiled kernel entry point (a CUfunction of a module loaded in the backend's context).</summary>
internal readonly record struct CudaKernel(IntPtr Function, string Name);
