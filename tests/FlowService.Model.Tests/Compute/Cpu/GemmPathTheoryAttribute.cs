using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>A theory that is skipped, with the reason shown, on processors that cannot run <paramref name="path"/>.</summary>
public sealed class GemmPathTheoryAttribute : TheoryAttribute
{
    public GemmPathTheoryAttribute(ManagedGemmPath path)
    {
        if (!ManagedGemm.IsSupported(path))
            Skip = $"This processor cannot run the {path} GEMM path.";
    }
}
