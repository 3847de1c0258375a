using FlowService.Training.Storage;

namespace FlowService.Training.Tests;

/// <summary>A data folder and SQLite database in a fresh temporary directory, removed on dispose.</summary>
public sealed class TempDataFolder : IDisposable
{
    public TempDataFolder()
    {
        Folder = new DataFolder(Path.Combine(Path.GetTempPath(), "flowservice-tests", Guid.NewGuid().ToString("N")));
        Database = new SqliteDatabase(Folder.DatabasePath);
    }

    public DataFolder Folder { get; }

    public SqliteDatabase Database { get; }

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Folder.Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a finishing background task; the OS temp cleanup removes it.
        }
    }
}
