using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace FlowService.Api.Tests.ScaleOut;

/// <summary>
/// The built service as a real process: <c>dotnet FlowService.Api.dll --urls http://127.0.0.1:PORT</c>
/// with its configuration in environment variables, as a container would run it. Its output is kept
/// for the failure message; <see cref="KillHard"/> is kill -9.
/// </summary>
public sealed class ServiceProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly ConcurrentQueue<string> _output = new();

    ServiceProcess(string name, Process process, int port)
    {
        Name = name;
        _process = process;
        Port = port;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(30) };
        process.OutputDataReceived += (_, e) => Keep(e.Data);
        process.ErrorDataReceived += (_, e) => Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Port { get; }

    public int ProcessId => _process.Id;

    public HttpClient Client { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The last lines it wrote (stdout and stderr).</summary>
    public string Output => $"--- {Name} (pid {_process.Id}) ---\n" + string.Join('\n', _output);

    public static ServiceProcess Start(string name, IReadOnlyDictionary<string, string> environment)
    {
        string dll = typeof(Program).Assembly.Location;
        int port = FreePort();
        // The SDK's test runner names the dotnet host it runs under; the same host runs the service.
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.ArgumentList.Add(dll);
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add($"http://127.0.0.1:{port}");
        // These processes run as Production, which refuses to start without a credential; auth is not their subject.
        info.Environment["FlowService__Auth__Mode"] = "none";
        foreach (var (key, value) in environment)
            info.Environment[key] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {dll}");
        return new ServiceProcess(name, process, port);
    }

    /// <summary>Waits until GET /health/ready answers 200 (storage reachable and, for a worker, its loop running).</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited)
                throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}\n{Output}");
            try
            {
                if ((await Client.GetAsync("/health/ready")).StatusCode == HttpStatusCode.OK)
                    return;
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"{Name} not ready after {timeout}\n{Output}");
            await Task.Delay(100);
        }
    }

    /// <summary>SIGKILL: no shutdown, no lease released, the job it runs is left Running.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }

    void Keep(string? line)
    {
        if (line is null)
            return;
        _output.Enqueue(line);
        while (_output.Count > 200)
            _output.TryDequeue(out _);
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
