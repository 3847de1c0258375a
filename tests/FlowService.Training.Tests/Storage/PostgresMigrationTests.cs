using FlowService.Training.Storage;
using Npgsql;

namespace FlowService.Training.Tests.Storage;

public class PostgresMigrationTests
{
    [PostgresFact]
    public async Task Replicas_starting_at_once_migrate_a_new_database_exactly_once()
    {
        string connection = await PostgresCluster.CreateDatabaseAsync();
        var replicas = Enumerable.Range(0, 4).Select(_ => new PostgresDatabase(connection)).ToArray();
        try
        {
            await Task.WhenAll(replicas.Select(r => Task.Run(() => r.MigrateAsync())));
            foreach (var replica in replicas)
                Assert.Equal(PostgresSchema.Migrations.Count, await replica.SchemaVersionAsync());
            await using var raw = new NpgsqlConnection(connection);
            await raw.OpenAsync();
            await using var rows = new NpgsqlCommand("SELECT COUNT(*) FROM schema_migrations", raw);
            Assert.Equal(PostgresSchema.Migrations.Count, Convert.ToInt32(await rows.ExecuteScalarAsync()));
            // A restarted replica finds nothing to do.
            using var again = new PostgresDatabase(connection);
            await again.MigrateAsync();
            Assert.Equal(PostgresSchema.Migrations.Count, await again.SchemaVersionAsync());
        }
        finally
        {
            foreach (var replica in replicas)
                replica.Dispose();
        }
    }

    [PostgresFact]
    public async Task A_database_newer_than_this_build_is_refused()
    {
        string connection = await PostgresCluster.CreateDatabaseAsync();
        using (var current = new PostgresDatabase(connection))
            await current.MigrateAsync();
        await using (var raw = new NpgsqlConnection(connection))
        {
            await raw.OpenAsync();
            await using var bump = new NpgsqlCommand($"INSERT INTO schema_migrations (version) VALUES ({PostgresSchema.Migrations.Count + 1})", raw);
            await bump.ExecuteNonQueryAsync();
        }
        using var old = new PostgresDatabase(connection);
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => old.MigrateAsync());
        Assert.Contains("newer than this build", error.Message);
    }

    [PostgresFact]
    public async Task An_unreachable_server_is_a_transient_error_and_not_ready()
    {
        // A port nobody listens on: connections are refused at once.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var database = new PostgresDatabase($"Host=127.0.0.1;Port={port};Username=postgres;Database=none");
        Assert.False(database.IsReachable());
        var error = await Assert.ThrowsAnyAsync<NpgsqlException>(() => database.MigrateAsync());
        Assert.True(error.IsTransient);
    }
}
