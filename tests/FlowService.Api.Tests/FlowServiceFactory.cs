using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace FlowService.Api.Tests;

/// <summary>
/// The whole service in memory with its data folder in a fresh temporary directory (removed on
/// dispose) and its metadata in the <paramref name="backend"/>: the embedded SQLite file, or a new
/// database on the shared test PostgreSQL cluster (or the one <paramref name="postgres"/> names, to
/// start a second process over the same database). Create one per test with <c>await using</c>.
/// </summary>
public sealed class FlowServiceFactory : WebApplicationFactory<Program>
{
    readonly Dictionary<string, string?> _settings;
    readonly string _environment;

    public FlowServiceFactory(StoreBackend backend = StoreBackend.Sqlite, bool worker = true, Dictionary<string, string?>? settings = null,
        string? dataPath = null, string? postgres = null, string environment = "Development")
    {
        _environment = environment;
        DataPath = dataPath ?? Path.Combine(Path.GetTempPath(), "flowservice-api-tests", Guid.NewGuid().ToString("N"));
        OwnsDataPath = dataPath is null;
        PostgresConnection = backend == StoreBackend.Postgres ? postgres ?? PostgresCluster.CreateDatabaseAsync().GetAwaiter().GetResult() : null;
        _settings = new Dictionary<string, string?>
        {
            ["FlowService:DataPath"] = DataPath,
            ["FlowService:Worker:Enabled"] = worker ? "true" : "false",
            ["FlowService:Worker:PollIntervalMilliseconds"] = "50",
            ["FlowService:Worker:HeartbeatMilliseconds"] = "200",
        };
        if (PostgresConnection is not null)
            _settings["ConnectionStrings:Postgres"] = PostgresConnection;
        foreach (var (key, value) in settings ?? [])
            _settings[key] = value;
    }

    public string DataPath { get; }

    /// <summary>The PostgreSQL database this service uses; null on SQLite.</summary>
    public string? PostgresConnection { get; }

    bool OwnsDataPath { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        foreach (var (key, value) in _settings)
            builder.UseSetting(key, value);
        builder.UseEnvironment(_environment);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        if (OwnsDataPath && Directory.Exists(DataPath))
        {
            try
            {
                Directory.Delete(DataPath, recursive: true);
            }
            catch (IOException)
            {
                // A file still held by a finishing background task; the OS temp cleanup removes it.
            }
        }
        GC.SuppressFinalize(this);
    }
}
