using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Tests.Cuda;

/// <summary>A fact that needs a CUDA device: skipped, with the reason shown, where there is none (CI).</summary>
public sealed class CudaFactAttribute : FactAttribute
{
    public CudaFactAttribute()
    {
        if (!CudaTestDevice.IsAvailable)
            Skip = CudaTestDevice.SkipReason;
    }
}

/// <summary>A theory that needs a CUDA device: skipped, with the reason shown, where there is none (CI).</summary>
public sealed class CudaTheoryAttribute : TheoryAttribute
{
    public CudaTheoryAttribute()
    {
        if (!CudaTestDevice.IsAvailable)
            Skip = CudaTestDevice.SkipReason;
    }
}

/// <summary>The CUDA backend of device 0, probed once per test run.</summary>
public static class CudaTestDevice
{
    private static readonly Lazy<(CudaBackend? Backend, string Reason)> Probe = new(() =>
        CudaBackend.TryCreate(0, out CudaBackend? backend, out string reason) ? (backend, "") : (null, reason));

    public static bool IsAvailable => Probe.Value.Backend is not null;

    public static string SkipReason => $"No usable CUDA device: {Probe.Value.Reason}";

    public static CudaBackend Backend => Probe.Value.Backend ?? throw new InvalidOperationException(SkipReason);
}
