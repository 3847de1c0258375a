using FlowService.Training.Storage;
using Microsoft.Data.Sqlite;

namespace FlowService.Training.Keys;

/// <summary>The embedded key store: table <c>api_keys</c> of the SQLite file, looked up by the unique hash.</summary>
public sealed class SqliteApiKeyStore(SqliteDatabase database) : IApiKeyStore
{
    const string Columns = "id, name, role, hash, created_at, expires_at, last_used_at";

    public Task AddAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        Write(connection, key, $"INSERT INTO api_keys ({Columns}) VALUES ($id, $name, $role, $hash, $created, $expires, NULL)");
        return Task.CompletedTask;
    }

    public Task UpsertAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        Write(connection, key, $"""
            INSERT INTO api_keys ({Columns}) VALUES ($id, $name, $role, $hash, $created, $expires, NULL)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, hash = excluded.hash, expires_at = excluded.expires_at
            """);
        return Task.CompletedTask;
    }

    public Task<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM api_keys WHERE hash = $hash";
        command.Parameters.AddWithValue("$hash", hash);
        using var reader = command.ExecuteReader();
        return Task.FromResult(reader.Read() ? Read(reader) : null);
    }

    public Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {Columns} FROM api_keys ORDER BY created_at, id";
        using var reader = command.ExecuteReader();
        var keys = new List<ApiKeyRecord>();
        while (reader.Read())
            keys.Add(Read(reader));
        return Task.FromResult<IReadOnlyList<ApiKeyRecord>>(keys);
    }

    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM api_keys WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        return Task.FromResult(command.ExecuteNonQuery() > 0);
    }

    public Task RecordLastUsedAsync(IReadOnlyDictionary<string, DateTimeOffset> lastUsed, CancellationToken cancellationToken = default)
    {
        if (lastUsed.Count == 0)
            return Task.CompletedTask;
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction();
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "UPDATE api_keys SET last_used_at = $used WHERE id = $id AND (last_used_at IS NULL OR last_used_at < $used)";
        var id = command.Parameters.Add("$id", SqliteType.Text);
        var used = command.Parameters.Add("$used", SqliteType.Text);
        foreach (var (keyId, at) in lastUsed)
        {
            id.Value = keyId;
            used.Value = StoreJson.Timestamp(at);
            command.ExecuteNonQuery();
        }
        transaction.Commit();
        return Task.CompletedTask;
    }

    static void Write(SqliteConnection connection, ApiKeyRecord key, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Parameters.AddWithValue("$id", key.Id);
        command.Parameters.AddWithValue("$name", key.Name);
        command.Parameters.AddWithValue("$role", key.Role);
        command.Parameters.AddWithValue("$hash", key.Hash);
        command.Parameters.AddWithValue("$created", StoreJson.Timestamp(key.CreatedAt));
        command.Parameters.AddWithValue("$expires", key.ExpiresAt is { } expires ? StoreJson.Timestamp(expires) : DBNull.Value);
        command.ExecuteNonQuery();
    }

    static ApiKeyRecord Read(SqliteDataReader reader) => new(
        reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
        StoreJson.ParseTimestamp(reader.GetString(4)),
        reader.IsDBNull(5) ? null : StoreJson.ParseTimestamp(reader.GetString(5)),
        reader.IsDBNull(6) ? null : StoreJson.ParseTimestamp(reader.GetString(6)));
}
