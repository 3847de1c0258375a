using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>A fact that is skipped, with the reason shown, where OpenBLAS is not installed.</summary>
public sealed class OpenBlasFactAttribute : FactAttribute
{
    public OpenBlasFactAttribute()
    {
        if (!OpenBlasGemm.IsAvailable)
            Skip = OpenBlasGemm.UnavailableReason;
    }
}
