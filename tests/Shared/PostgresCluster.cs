using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace FlowService.Tests.Shared;

/// <summary>
/// A throwaway PostgreSQL cluster for tests, from the Debian <c>postgresql</c> package's binaries:
/// <c>initdb</c> into a temporary folder (as the <c>postgres</c> user when the tests run as root, since
/// PostgreSQL refuses to run as root), <c>pg_ctl start</c> on 127.0.0.1 at a free port, and a fresh
/// database per test. Durability is off (fsync) because the cluster is thrown away.
/// <see cref="Shared"/> is one cluster for the whole test run; a test that stops and starts the server
/// makes its own with <see cref="StartAsync"/>.
/// </summary>
public sealed class PostgresCluster : IAsyncDisposable
{
    static readonly Lazy<Task<PostgresCluster>> SharedCluster = new(async () =>
    {
        var cluster = await StartAsync();
        AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.StopNow();
        return cluster;
    });

    readonly string _bin;
    readonly string _root;
    readonly string? _runAs;

    PostgresCluster(string bin, string root, string? runAs, int port)
    {
        _bin = bin;
        _root = root;
        _runAs = runAs;
        Port = port;
    }

    public int Port { get; }

    string DataDirectory => Path.Combine(_root, "data");

    /// <summary>Why PostgreSQL tests cannot run here, or null when the binaries are installed.</summary>
    public static string? UnavailableReason => FindBinaries() is null
        ? "PostgreSQL binaries (initdb, pg_ctl) are not installed; ./test.sh installs Debian's postgresql package when run as root"
        : null;

    /// <summary>The cluster shared by every test of this run, started on first use.</summary>
    public static Task<PostgresCluster> Shared => SharedCluster.Value;

    /// <summary>A connection string to a new, empty database on the shared cluster.</summary>
    public static async Task<string> CreateDatabaseAsync() => await (await Shared).CreateDatabaseOnThisClusterAsync();

    public static async Task<PostgresCluster> StartAsync()
    {
        string bin = FindBinaries() ?? throw new InvalidOperationException(UnavailableReason);
        string parent = Path.Combine(Path.GetTempPath(), "flowservice-pg");
        RemoveStale(parent);
        string root = Path.Combine(parent, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(root);
        string? runAs = IsRoot() ? "postgres" : null;
        // Only this cluster's own folder changes owner: other test processes create and remove theirs beside it at the same time.
        if (runAs is not null)
            await RunAsync("chown", [$"{runAs}:{runAs}", root]);
        var cluster = new PostgresCluster(bin, root, runAs, FreePort());
        await cluster.PgAsync("initdb", ["-D", cluster.DataDirectory, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--no-instructions"]);
        await cluster.StartServerAsync();
        return cluster;
    }

    public string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database }.ConnectionString;

    public async Task<string> CreateDatabaseOnThisClusterAsync()
    {
        string name = "t" + Guid.NewGuid().ToString("N");
        await using var connection = new NpgsqlConnection(ConnectionString("postgres") + ";Pooling=false");
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection))
            await command.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    /// <summary>Starts the server (again) on the same port and data.</summary>
    public Task StartServerAsync() => PgAsync("pg_ctl", [
        "-D", DataDirectory, "-l", Path.Combine(_root, "server.log"), "-w", "-t", "60",
        "-o", $"-c listen_addresses=127.0.0.1 -p {Port} -k {_root} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
        "start"]);

    /// <summary>Stops the server at once (fast shutdown: sessions are cut, as in a real outage).</summary>
    public Task StopServerAsync() => PgAsync("pg_ctl", ["-D", DataDirectory, "-m", "fast", "-w", "-t", "60", "stop"]);

    public async ValueTask DisposeAsync()
    {
        StopNow();
        await Task.CompletedTask;
    }

    void StopNow()
    {
        try
        {
            RunAsync(_runAs is null ? Path.Combine(_bin, "pg_ctl") : "runuser", PgArguments("pg_ctl", ["-D", DataDirectory, "-m", "immediate", "-w", "stop"]))
                .GetAwaiter().GetResult();
        }
        catch (InvalidOperationException)
        {
            // Already stopped.
        }
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    Task PgAsync(string tool, string[] arguments) =>
        RunAsync(_runAs is null ? Path.Combine(_bin, tool) : "runuser", PgArguments(tool, arguments));

    string[] PgArguments(string tool, string[] arguments) =>
        _runAs is null ? arguments : ["-u", _runAs, "--", Path.Combine(_bin, tool), .. arguments];

    /// <summary>
    /// Folders of clusters that earlier test runs stopped but could not remove (the test host is ended soon
    /// after its last test, which can cut short the removal at exit): no server runs in them and they are old.
    /// </summary>
    static void RemoveStale(string parent)
    {
        if (!Directory.Exists(parent))
            return;
        foreach (var folder in Directory.EnumerateDirectories(parent))
        {
            if (File.Exists(Path.Combine(folder, "data", "postmaster.pid")) || Directory.GetLastWriteTimeUtc(folder) > DateTime.UtcNow.AddMinutes(-5))
                continue;
            try
            {
                Directory.Delete(folder, recursive: true);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Another test process removes it at the same moment.
            }
        }
    }

    static bool IsRoot()
    {
        try
        {
            return File.ReadAllLines("/proc/self/status").Any(l => l.StartsWith("Uid:", StringComparison.Ordinal) && l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1] == "0");
        }
        catch (IOException)
        {
            return false;
        }
    }

    static string? FindBinaries()
    {
        const string debian = "/usr/lib/postgresql";
        if (!Directory.Exists(debian))
            return null;
        return Directory.EnumerateDirectories(debian)
            .Select(d => Path.Combine(d, "bin"))
            .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
            .OrderByDescending(b => int.TryParse(Path.GetFileName(Path.GetDirectoryName(b)), out int v) ? v : 0)
            .FirstOrDefault();
    }

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    static async Task RunAsync(string file, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments)
            info.ArgumentList.Add(a);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', info.ArgumentList)} exited with {process.ExitCode}: {await stderr}{await stdout}");
    }
}
