using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Flows;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Hosting;

/// <summary>
/// Creates the one compute backend the trainer and the scoring cache share, from <see cref="ComputeOptions.Device"/>
/// through <see cref="BackendSelector"/>, and logs what was chosen and why. A GPU backend must also run a flow: a
/// one-row log p of a small RealNVP is computed on it before it is used, so a device whose backend still lacks
/// kernels for flow-level ops (docs/GPU.md) fails the start when it was asked for by name, and falls back to the
/// CPU with a warning under <c>auto</c>, instead of failing every job and request later.
/// </summary>
public static partial class ComputeBackendFactory
{
    public static IBackend Create(IOptions<ComputeOptions> options, ILogger logger)
    {
        string device = options.Value.Device;
        var line = new StringWriter();
        // Throws InvalidOperationException (cuda requested, not usable: which library or device is missing) at start.
        var backend = BackendSelector.Create(device, line);
        string choice = line.ToString().Trim();
        if (backend is CpuBackend)
        {
            if (device.Trim().Equals(BackendSelector.Auto, StringComparison.OrdinalIgnoreCase))
                LogFallback(logger, choice);
            else
                LogChoice(logger, choice);
            return backend;
        }
        if (RunsFlows(backend) is { } missing)
        {
            if (!device.Trim().Equals(BackendSelector.Auto, StringComparison.OrdinalIgnoreCase))
                throw new InvalidOperationException(
                    $"FlowService:Compute:Device '{device}' selected {choice}, but that backend cannot run a flow yet: {missing}. Use 'cpu', or 'auto' to fall back to the CPU.");
            LogFallback(logger, $"{choice}; it cannot run a flow yet ({missing}), so the CPU is used");
            return CpuBackend.Instance;
        }
        LogChoice(logger, choice);
        return backend;
    }

    /// <summary>Null when <paramref name="backend"/> computes a flow's log p; else the reason it cannot.</summary>
    internal static string? RunsFlows(IBackend backend)
    {
        try
        {
            var flow = NormalizingFlow.Create("""{"type":"realnvp","layers":2,"hidden":[8]}""", features: 2, contextFeatures: 0, seed: 1, backend: backend);
            Span<float> logProb = stackalloc float[1];
            flow.LogProb([0.5f, -0.25f], 1, [], logProb);
            return float.IsFinite(logProb[0]) ? null : $"log p of a test row was {logProb[0]}";
        }
        catch (NotSupportedException e)
        {
            return e.Message;
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "{ComputeBackend}")]
    private static partial void LogChoice(ILogger logger, string computeBackend);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Warning, Message = "{ComputeBackend}")]
    private static partial void LogFallback(ILogger logger, string computeBackend);
}
