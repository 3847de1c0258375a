using FlowService.GpuCheck;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cuda;

// gpu-check: device selection, the CUDA parity tests, then timings. Exit code 1 if a parity test fails
// or CUDA is not usable (this tool exists to be run on a GPU machine; without one every CUDA test skips).
string cpuModel = File.Exists("/proc/cpuinfo")
    ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?"
    : "?";
Console.WriteLine($"FlowService gpu-check, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {cpuModel}, {Environment.ProcessorCount} CPU threads, .NET {Environment.Version}");
IBackend selected = BackendSelector.Create("auto", Console.Out);

Console.WriteLine();
Console.WriteLine("## Parity tests (tests/FlowService.Model.Tests/Cuda, CUDA vs CPU backend)");
(int passed, int failed, int skipped) = ParityRunner.RunAll(Console.Out);
Console.WriteLine($"parity: {passed} passed, {failed} failed, {skipped} skipped");

if (selected is not CudaBackend gpu)
{
    Console.WriteLine("gpu-check: CUDA is not usable on this machine (see the selector line above); no timings.");
    return 1;
}
Console.WriteLine();
Console.WriteLine("## Timings");
GemmTimings.Run(gpu, Console.Out);
Console.WriteLine();
OpTimings.Run(gpu, Console.Out);
return failed == 0 ? 0 : 1;
