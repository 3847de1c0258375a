using System.Diagnostics;

namespace FlowService.Api.Tests.Observability;

/// <summary>Finds and runs the command-line tools the operations tests check against (promtool, prometheus, kubectl, docker-compose).</summary>
public static class ExternalTool
{
    /// <summary>The Debian python3 with PyYAML (python3-yaml, a docker-compose dependency) that turns YAML into JSON for the checks.</summary>
    public const string PythonYaml = "python3-yaml";

    private const string DebianPython = "/usr/bin/python3";

    public static bool IsAvailable(string tool) => tool == PythonYaml
        ? File.Exists(DebianPython) && Directory.Exists("/usr/lib/python3/dist-packages/yaml")
        : Find(tool) is not null;

    /// <summary>Every document of a YAML stream as JSON (PyYAML's safe loader: plain data, no tags).</summary>
    public static async Task<System.Text.Json.JsonElement[]> YamlDocumentsAsync(string yaml)
    {
        const string script = "import sys, json, yaml; json.dump([d for d in yaml.safe_load_all(sys.stdin) if d is not None], sys.stdout)";
        var (code, stdout, stderr) = await RunAsync(DebianPython, ["-c", script], stdin: yaml);
        if (code != 0) throw new InvalidOperationException("YAML did not parse: " + stderr);
        using var doc = System.Text.Json.JsonDocument.Parse(stdout);
        return doc.RootElement.EnumerateArray().Select(e => e.Clone()).ToArray();
    }

    public static string? Find(string name)
    {
        if (Path.IsPathRooted(name)) return File.Exists(name) ? name : null;
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

    /// <summary>The repository root this test assembly was built from (recorded at build time by the project file).</summary>
    public static string RepositoryRoot()
    {
        var root = typeof(ExternalTool).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().Single(a => a.Key == "RepositoryRoot").Value!;
        if (!File.Exists(Path.Combine(root, "FlowService.sln"))) throw new InvalidOperationException($"FlowService.sln not found in {root}");
        return root;
    }
}
