using FlowService.Training.Storage;
using Npgsql;
using static FlowService.Training.Storage.PostgresCommand;

namespace FlowService.Training.Keys;

/// <summary>
/// The shared key store: table <c>api_keys</c> in PostgreSQL. Deleting a key, or replacing one (the bootstrap key's
/// new value), also sends its id on <see cref="RevocationChannel"/> (NOTIFY, delivered when the change commits), so
/// every replica's cache of verified keys can drop it at once.
/// </summary>
public sealed class PostgresApiKeyStore(PostgresDatabase database) : IApiKeyStore
{
    /// <summary>The LISTEN/NOTIFY channel that carries the ids of deleted or replaced keys.</summary>
    public const string RevocationChannel = "flowservice_api_keys";

    const string Columns = "id, name, role, hash, created_at, expires_at, last_used_at";

    public async Task AddAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await ExecuteAsync(connection, null, $"INSERT INTO api_keys ({Columns}) VALUES (@id, @name, @role, @hash, @created, @expires, NULL)",
            cancellationToken, Parameters(key));
    }

    public async Task UpsertAsync(ApiKeyRecord key, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, $"""
            INSERT INTO api_keys ({Columns}) VALUES (@id, @name, @role, @hash, @created, @expires, NULL)
            ON CONFLICT (id) DO UPDATE SET name = excluded.name, role = excluded.role, hash = excluded.hash, expires_at = excluded.expires_at;
            SELECT pg_notify('{RevocationChannel}', @id);
            """, cancellationToken, Parameters(key));
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<ApiKeyRecord?> FindByHashAsync(string hash, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await QueryAsync(connection, $"SELECT {Columns} FROM api_keys WHERE hash = @hash", cancellationToken, ("hash", hash))).FirstOrDefault();
    }

    public async Task<IReadOnlyList<ApiKeyRecord>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await QueryAsync(connection, $"SELECT {Columns} FROM api_keys ORDER BY created_at, id", cancellationToken);
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        bool deleted = await ExecuteAsync(connection, transaction, "DELETE FROM api_keys WHERE id = @id", cancellationToken, ("id", id)) > 0;
        if (deleted)
            await ExecuteAsync(connection, transaction, $"SELECT pg_notify('{RevocationChannel}', @id)", cancellationToken, ("id", id));
        await transaction.CommitAsync(cancellationToken);
        return deleted;
    }

    public async Task RecordLastUsedAsync(IReadOnlyDictionary<string, DateTimeOffset> lastUsed, CancellationToken cancellationToken = default)
    {
        if (lastUsed.Count == 0)
            return;
        await using var connection = await database.OpenAsync(cancellationToken);
        // One statement for the batch: the ids and times as two parallel arrays.
        await ExecuteAsync(connection, null, """
            UPDATE api_keys k SET last_used_at = u.used
            FROM unnest(@ids, @used) AS u(id, used)
            WHERE k.id = u.id AND (k.last_used_at IS NULL OR k.last_used_at < u.used)
            """, cancellationToken, ("ids", lastUsed.Keys.ToArray()), ("used", lastUsed.Values.Select(v => v.ToUniversalTime()).ToArray()));
    }

    static (string Name, object? Value)[] Parameters(ApiKeyRecord key) =>
    [
        ("id", key.Id), ("name", key.Name), ("role", key.Role), ("hash", key.Hash), ("created", key.CreatedAt.ToUniversalTime()),
        ("expires", key.ExpiresAt?.ToUniversalTime()),
    ];

    static async Task<List<ApiKeyRecord>> QueryAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Create(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var keys = new List<ApiKeyRecord>();
        while (await reader.ReadAsync(cancellationToken))
            keys.Add(new ApiKeyRecord(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3),
                Timestamp(reader, "created_at"), NullableTimestamp(reader, "expires_at"), NullableTimestamp(reader, "last_used_at")));
        return keys;
    }
}
