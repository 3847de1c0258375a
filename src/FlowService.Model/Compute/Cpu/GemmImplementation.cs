namespace FlowService.Model.Compute.Cpu;

/// <summary>Which GEMM the CPU backend calls; chosen with <see cref="GemmSelection"/>.</summary>
public enum GemmImplementation
{
    /// <summary><see cref="ManagedGemm"/>: the default and the fastest here.</summary>
    Managed,

    /// <summary><see cref="OpenBlasGemm"/>; falls back to <see cref="Managed"/> where OpenBLAS is not installed.</summary>
    OpenBlas,

    /// <summary><see cref="ReferenceGemm"/>: slow, for debugging a suspected kernel bug.</summary>
    Reference,
}
