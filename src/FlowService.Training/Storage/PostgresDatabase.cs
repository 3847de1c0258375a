using System.Data.Common;
using Npgsql;

namespace FlowService.Training.Storage;

/// <summary>
/// The scale-out metadata store: one PostgreSQL database shared by every API and worker replica.
/// Owns the connection pool and brings the schema to <see cref="PostgresSchema"/> before the first
/// connection is handed out, under an advisory lock, so replicas that start together migrate once and in
/// order. A process may start while the database is down: migration is retried on the next use.
/// Connection attempts time out after a few seconds unless the connection string sets a timeout, so
/// requests fail fast while the database is down; pooled connections broken by a restart are replaced.
/// </summary>
public sealed class PostgresDatabase : IStorageProbe, IDisposable
{
    const int DefaultConnectTimeoutSeconds = 5;

    readonly NpgsqlDataSource _dataSource;
    readonly SemaphoreSlim _migrationGate = new(1, 1);
    volatile bool _migrated;

    public PostgresDatabase(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var given = new DbConnectionStringBuilder { ConnectionString = connectionString };
        if (!given.ContainsKey("Timeout") && !given.ContainsKey("Connect Timeout") && !given.ContainsKey("Connection Timeout"))
            builder.Timeout = DefaultConnectTimeoutSeconds;
        builder.ApplicationName ??= "flowservice";
        _dataSource = NpgsqlDataSource.Create(builder.ConnectionString);
    }

    /// <summary>An open connection to a migrated database.</summary>
    public async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        if (!_migrated)
            await MigrateAsync(cancellationToken);
        return await _dataSource.OpenConnectionAsync(cancellationToken);
    }

    /// <summary>The schema version this database is at (the number of applied migrations).</summary>
    public async Task<int> SchemaVersionAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", connection);
        return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
    }

    /// <summary>True when the schema is current and a connection answers a query (readiness probe).</summary>
    public bool IsReachable()
    {
        try
        {
            using var connection = OpenAsync().GetAwaiter().GetResult();
            using var command = new NpgsqlCommand("SELECT 1", connection);
            return Convert.ToInt32(command.ExecuteScalar()) == 1;
        }
        catch (Exception e) when (e is DbException or TimeoutException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>
    /// Applies the missing migrations, each in its own transaction with its row in schema_migrations, while
    /// holding a session-level advisory lock. A replica that waited on the lock finds them applied and does nothing.
    /// </summary>
    public async Task MigrateAsync(CancellationToken cancellationToken = default)
    {
        await _migrationGate.WaitAsync(cancellationToken);
        try
        {
            if (_migrated)
                return;
            await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken);
            await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({PostgresSchema.MigrationLockKey})", cancellationToken);
            try
            {
                await ExecuteAsync(connection, null, """
                    CREATE TABLE IF NOT EXISTS schema_migrations (
                        version integer PRIMARY KEY,
                        applied_at timestamptz NOT NULL DEFAULT now()
                    )
                    """, cancellationToken);
                int applied;
                await using (var read = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", connection))
                    applied = Convert.ToInt32(await read.ExecuteScalarAsync(cancellationToken));
                if (applied > PostgresSchema.Migrations.Count)
                    throw new InvalidOperationException(
                        $"The database's schema is at version {applied}, newer than this build knows ({PostgresSchema.Migrations.Count}); run a newer FlowService.");
                for (int i = applied; i < PostgresSchema.Migrations.Count; i++)
                {
                    await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                    await ExecuteAsync(connection, transaction, PostgresSchema.Migrations[i], cancellationToken);
                    await ExecuteAsync(connection, transaction, $"INSERT INTO schema_migrations (version) VALUES ({i + 1})", cancellationToken);
                    await transaction.CommitAsync(cancellationToken);
                }
            }
            finally
            {
                // Closing the session releases the lock as well, should this fail on a broken connection.
                await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({PostgresSchema.MigrationLockKey})", CancellationToken.None);
            }
            _migrated = true;
        }
        finally
        {
            _migrationGate.Release();
        }
    }

    public void Dispose()
    {
        _dataSource.Dispose();
        _migrationGate.Dispose();
    }

    static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
