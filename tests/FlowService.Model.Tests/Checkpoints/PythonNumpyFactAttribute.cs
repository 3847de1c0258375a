using System.Diagnostics;

namespace FlowService.Model.Tests.Checkpoints;

/// <summary>A fact that runs only where Debian's /usr/bin/python3 with numpy (python3-numpy) is installed, skipped with that reason elsewhere.</summary>
public sealed class PythonNumpyFactAttribute : FactAttribute
{
    public const string Python = "/usr/bin/python3";

    private static readonly Lazy<bool> Available = new(() =>
    {
        if (!File.Exists(Python))
            return false;
        try
        {
            var psi = new ProcessStartInfo(Python) { RedirectStandardError = true, RedirectStandardOutput = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add("import numpy");
            using var process = Process.Start(psi)!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    });

    public PythonNumpyFactAttribute()
    {
        if (!Available.Value)
            Skip = $"{Python} with numpy (Debian python3-numpy) is not installed";
    }
}
