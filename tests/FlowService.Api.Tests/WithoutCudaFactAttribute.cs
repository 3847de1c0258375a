using FlowService.Model.Compute.Cuda;

namespace FlowService.Api.Tests;

/// <summary>A fact about a machine without CUDA: skipped, with the device named, where a CUDA device is usable.</summary>
public sealed class WithoutCudaFactAttribute : FactAttribute
{
    static readonly Lazy<string?> UsableDevice = new(() =>
    {
        if (!CudaBackend.TryCreate(0, out var backend, out _)) return null;
        // The backend holds the device's primary context for the process, as the CUDA tests' probe does.
        return backend!.Description;
    });

    public WithoutCudaFactAttribute()
    {
        if (UsableDevice.Value is { } device)
            Skip = $"CUDA is usable here ({device}): the case of a machine without it cannot be shown";
    }
}
