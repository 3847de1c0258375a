using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>A theory that is skipped, with the reason shown, where OpenBLAS is not installed.</summary>
public sealed class OpenBlasTheoryAttribute : TheoryAttribute
{
    public OpenBlasTheoryAttribute()
    {
        if (!OpenBlasGemm.IsAvailable)
            Skip = OpenBlasGemm.UnavailableReason;
    }
}
