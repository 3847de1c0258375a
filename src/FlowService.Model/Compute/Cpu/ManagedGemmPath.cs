namespace FlowService.Model.Compute.Cpu;

/// <summary>Which instruction set the managed GEMM uses; tests and benchmarks pin one, the backend takes <see cref="Best"/>.</summary>
public enum ManagedGemmPath
{
    /// <summary>The widest path this processor supports.</summary>
    Best,

    /// <summary>AVX-512 FMA, 8 x 32 register tile.</summary>
    Vector512,

    /// <summary>AVX2 FMA, 6 x 16 register tile (AVX2-only machines).</summary>
    Vector256,

    /// <summary>Plain scalar loops: no intrinsics, runs anywhere.</summary>
    Scalar,
}
