using FlowService.Training.Datasets;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;
using FlowService.Training.Storage;

namespace FlowService.Training.Tests;

/// <summary>
/// The three stores over one backend, with a data folder in a fresh temporary directory: a SQLite file
/// in it, or a new database on the shared test PostgreSQL cluster. <see cref="ReopenAsync"/> gives another
/// set over the same database (another process or replica); everything is removed on dispose.
/// </summary>
public sealed class TestStores : IAsyncDisposable
{
    readonly List<IDisposable> _databases = [];

    readonly bool _ownsFolder;

    TestStores(StoreBackend backend, DataFolder folder, string? connectionString, bool ownsFolder)
    {
        _ownsFolder = ownsFolder;
        Backend = backend;
        Folder = folder;
        ConnectionString = connectionString;
        (Datasets, Jobs, Registry) = Open();
    }

    public StoreBackend Backend { get; }

    public DataFolder Folder { get; }

    /// <summary>The PostgreSQL database's connection string (null for SQLite).</summary>
    public string? ConnectionString { get; }

    public IDatasetStore Datasets { get; }

    public IJobStore Jobs { get; }

    public IModelRegistry Registry { get; }

    public static async Task<TestStores> CreateAsync(StoreBackend backend)
    {
        var folder = new DataFolder(Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N")));
        string? connection = backend == StoreBackend.Postgres ? await PostgresCluster.CreateDatabaseAsync() : null;
        return new TestStores(backend, folder, connection, ownsFolder: true);
    }

    /// <summary>New store instances (own connections, own pool) over the same database and folder, which stay when they are disposed.</summary>
    public TestStores Reopen() => new(Backend, Folder, ConnectionString, ownsFolder: false);

    (IDatasetStore, IJobStore, IModelRegistry) Open()
    {
        if (ConnectionString is null)
        {
            var sqlite = new SqliteDatabase(Folder.DatabasePath);
            return (new SqliteDatasetStore(sqlite, Folder), new SqliteJobStore(sqlite), new SqliteModelRegistry(sqlite, Folder));
        }
        var postgres = new PostgresDatabase(ConnectionString);
        _databases.Add(postgres);
        return (new PostgresDatasetStore(postgres, Folder), new PostgresJobStore(postgres), new PostgresModelRegistry(postgres, Folder));
    }

    public ValueTask DisposeAsync()
    {
        foreach (var database in _databases)
            database.Dispose();
        if (!_ownsFolder)
            return ValueTask.CompletedTask;
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder.Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a finishing background task; the OS temp cleanup removes it.
        }
        return ValueTask.CompletedTask;
    }
}
