using Microsoft.Data.Sqlite;

namespace FlowService.Training.Storage;

/// <summary>
/// The embedded store: one SQLite file in the data folder. Opens connections with WAL journaling
/// (readers never block the worker's writes) and a busy timeout, and applies the schema migrations
/// in order, recording the applied version in <c>PRAGMA user_version</c>.
/// </summary>
public sealed class SqliteDatabase : IStorageProbe
{
    readonly string _connectionString;

    public SqliteDatabase(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        FilePath = path;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        Migrate();
    }

    public string FilePath { get; }

    public SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        connection.Open();
        using var pragma = connection.CreateCommand();
        pragma.CommandText = "PRAGMA busy_timeout = 30000; PRAGMA foreign_keys = ON;";
        pragma.ExecuteNonQuery();
        return connection;
    }

    /// <summary>True when the file can be opened and queried (readiness probe).</summary>
    public bool IsReachable()
    {
        try
        {
            using var connection = Open();
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT 1";
            return Convert.ToInt64(command.ExecuteScalar()) == 1;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    void Migrate()
    {
        using var connection = Open();
        using (var wal = connection.CreateCommand())
        {
            wal.CommandText = "PRAGMA journal_mode = WAL;";
            wal.ExecuteNonQuery();
        }
        using var transaction = connection.BeginTransaction();
        using var read = connection.CreateCommand();
        read.Transaction = transaction;
        read.CommandText = "PRAGMA user_version";
        long version = Convert.ToInt64(read.ExecuteScalar());
        for (int i = (int)version; i < SqliteSchema.Migrations.Count; i++)
        {
            using var apply = connection.CreateCommand();
            apply.Transaction = transaction;
            apply.CommandText = SqliteSchema.Migrations[i] + $";\nPRAGMA user_version = {i + 1};";
            apply.ExecuteNonQuery();
        }
        transaction.Commit();
    }
}
