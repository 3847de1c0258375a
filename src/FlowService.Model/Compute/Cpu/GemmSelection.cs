namespace FlowService.Model.Compute.Cpu;

/// <summary>Reads the GEMM choice from <c>FLOWSERVICE_GEMM</c> (managed | openblas | reference) and applies the OpenBLAS fallback.</summary>
public static class GemmSelection
{
    public const string EnvironmentVariable = "FLOWSERVICE_GEMM";

    /// <summary>The implementation named by <see cref="EnvironmentVariable"/>, <see cref="GemmImplementation.Managed"/> when unset.</summary>
    public static GemmImplementation FromEnvironment() => Parse(Environment.GetEnvironmentVariable(EnvironmentVariable));

    public static GemmImplementation Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        null or "" or "managed" => GemmImplementation.Managed,
        "openblas" => GemmImplementation.OpenBlas,
        "reference" => GemmImplementation.Reference,
        _ => throw new ArgumentException($"{EnvironmentVariable}='{value}' is not one of managed, openblas, reference.", nameof(value)),
    };

    /// <summary>The implementation that will actually run: OpenBLAS only where it loads, else the managed GEMM.</summary>
    public static GemmImplementation Resolve(GemmImplementation requested) =>
        requested == GemmImplementation.OpenBlas && !OpenBlasGemm.IsAvailable ? GemmImplementation.Managed : requested;
}
