using System.Diagnostics;

namespace FlowService.Api.Tests.Observability;

/// <summary>Finds and runs the command-line tools the operations tests check against (promtool, prometheus, kubectl, docker-compose).</summary>
public static class ExternalTool
{
    public static string? Find(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    /// <summary>Runs the tool to completion; stdin text is written then closed. Returns exit code and both outputs.</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(string name, IEnumerable<string> arguments,
        string? stdin = null, string? workingDirectory = null, TimeSpan? timeout = null)
    {
        var path = Find(name) ?? throw new InvalidOperationException($"{name} is not on PATH");
        var info = new ProcessStartInfo(path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = stdin is not null,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments) info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {name}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
            process.StandardInput.Close();
        }
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{name} {string.Join(' ', arguments)} did not finish in time");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>The repository root (the folder holding FlowService.sln), found from the test assembly's folder upwards.</summary>
    public static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FlowService.sln"))) dir = dir.Parent;
        // Artifacts output (FS_ARTIFACTS) may live outside the tree; the working directory of dotnet test is inside it.
        dir ??= new DirectoryInfo(Environment.CurrentDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FlowService.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("FlowService.sln not found above the test folder");
    }
}
