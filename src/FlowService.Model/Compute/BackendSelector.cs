using FlowService.Model.Compute.Cpu;
using FlowService.Model.Compute.Cuda;

namespace FlowService.Model.Compute;

/// <summary>
/// Picks the compute backend from configuration: <c>cpu</c>, <c>cuda</c> (or <c>cuda:N</c>) or
/// <c>auto</c>. <c>auto</c> takes CUDA when a device and its libraries are present and the CPU
/// otherwise, never failing; an explicit <c>cuda</c> that cannot be had is an error that says why.
/// </summary>
/// <remarks>
/// The Model project takes no logging dependency, so the choice is reported as one line written to
/// a <see cref="TextWriter"/> the host adapts to its logger.
/// </remarks>
public static class BackendSelector
{
    public const string Cpu = "cpu", Cuda = "cuda", Auto = "auto";

    /// <summary>The backend for <paramref name="device"/>; one line saying which was chosen, and why, goes to <paramref name="log"/>.</summary>
    /// <exception cref="ArgumentException">An unknown device name.</exception>
    /// <exception cref="InvalidOperationException">CUDA was requested explicitly and is not usable here.</exception>
    public static IBackend Create(string device, TextWriter? log = null) => Create(device, log, TryCreateCuda);

    /// <summary>As <see cref="Create(string, TextWriter?)"/>, with the CUDA probe replaceable (tests simulate a machine without CUDA).</summary>
    internal static IBackend Create(string device, TextWriter? log, Func<int, (IBackend? Backend, string Reason)> tryCreateCuda)
    {
        ArgumentNullException.ThrowIfNull(device);
        string name = device.Trim().ToLowerInvariant();
        if (name == Cpu)
        {
            log?.WriteLine("Compute backend: cpu (configured)");
            return CpuBackend.Instance;
        }
        if (name == Auto)
        {
            (IBackend? gpu, string reason) = tryCreateCuda(0);
            if (gpu is not null)
            {
                log?.WriteLine($"Compute backend: {Describe(gpu)} (chosen by 'auto': a CUDA device and its libraries are present)");
                return gpu;
            }
            log?.WriteLine($"Compute backend: cpu (chosen by 'auto': CUDA is not usable here: {reason})");
            return CpuBackend.Instance;
        }
        if (TryParseCudaOrdinal(name, out int ordinal))
        {
            (IBackend? gpu, string reason) = tryCreateCuda(ordinal);
            if (gpu is null)
                throw new InvalidOperationException($"Device '{device}' was requested but CUDA is not usable here: {reason}. Use 'cpu', or 'auto' to fall back to the CPU.");
            log?.WriteLine($"Compute backend: {Describe(gpu)} (configured)");
            return gpu;
        }
        throw new ArgumentException($"Unknown compute device '{device}': use 'cpu', 'cuda', 'cuda:N' or 'auto'.", nameof(device));
    }

    private static bool TryParseCudaOrdinal(string name, out int ordinal)
    {
        ordinal = 0;
        if (name == Cuda)
            return true;
        return name.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(name.AsSpan(5), out ordinal) && ordinal >= 0;
    }

    private static (IBackend?, string) TryCreateCuda(int ordinal) =>
        CudaBackend.TryCreate(ordinal, out CudaBackend? backend, out string reason) ? (backend, "") : (null, reason);

    private static string Describe(IBackend backend) => backend is CudaBackend cuda ? cuda.Description : backend.Name;
}
