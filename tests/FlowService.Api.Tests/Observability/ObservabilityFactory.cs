using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Core;

namespace FlowService.Api.Tests.Observability;

/// <summary>The service with its data in a temp folder and every log event captured; optionally on a real loopback port.</summary>
public sealed class ObservabilityFactory(IReadOnlyDictionary<string, string>? settings = null, Action<IServiceCollection>? services = null)
    : WebApplicationFactory<Program>
{
    private readonly string dataFolder = Directory.CreateTempSubdirectory("flowservice-obs-").FullName;

    public CapturingSink Logs { get; } = new();

    public string DataFolder => dataFolder;

    /// <summary>Serves on http://127.0.0.1:{port} (a real socket, for Prometheus to scrape); returns the base address.</summary>
    public Uri StartOnLoopback()
    {
        var port = FreePort();
        UseKestrel(o => o.Listen(IPAddress.Loopback, port));
        StartServer();
        return new Uri($"http://127.0.0.1:{port}");
    }

    public static int FreePort()
    {
        using var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        return ((IPEndPoint)probe.LocalEndpoint).Port;
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Production");
        builder.UseSetting("FlowService:DataPath", dataFolder);
        // Production refuses to start without a credential; auth is not what these tests look at.
        builder.UseSetting("FlowService:Auth:Mode", "none");
        // Host settings, not a late configuration source: Program reads some settings while it builds (tracing).
        foreach (var (key, value) in settings ?? new Dictionary<string, string>()) builder.UseSetting(key, value);
        builder.ConfigureTestServices(collection =>
        {
            collection.AddSingleton<ILogEventSink>(Logs);
            services?.Invoke(collection);
        });
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        try
        {
            Directory.Delete(dataFolder, recursive: true);
        }
        catch (IOException)
        {
            // A file still held by a finishing background task; the temp folder is cleaned by the OS later.
        }
    }
}
