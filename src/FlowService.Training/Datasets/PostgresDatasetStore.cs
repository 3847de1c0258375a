using FlowService.Training.Storage;
using Npgsql;
using static FlowService.Training.Storage.PostgresCommand;

namespace FlowService.Training.Datasets;

/// <summary>
/// The shared dataset store: a row in PostgreSQL, the values as a float64 .npy in the data folder (the
/// volume every replica mounts). The file is durable before the row is committed, and removed when the
/// insert fails, so no row ever names a missing file.
/// </summary>
public sealed class PostgresDatasetStore(PostgresDatabase database, DataFolder folder) : IDatasetStore
{
    public async Task<DatasetInfo> AddAsync(string name, DatasetFormat format, NumericTable table, string sha256, long sizeBytes, CancellationToken cancellationToken = default)
    {
        // timestamptz keeps microseconds: the returned record carries exactly what a later read gives back.
        var now = DateTimeOffset.UtcNow;
        var info = new DatasetInfo(
            Guid.CreateVersion7().ToString("N"), name, format.ToString().ToLowerInvariant(), table.Rows, table.Columns.ToArray(),
            ColumnStatistics.Compute(table), sha256, sizeBytes, now.AddTicks(-(now.Ticks % 10)), table.Image);
        string file = folder.DatasetFile(info.Id);
        AtomicFile.Write(file, stream => NpyFormat.WriteFloat64(stream, table));
        try
        {
            await using var connection = await database.OpenAsync(cancellationToken);
            await ExecuteAsync(connection, null, """
                INSERT INTO datasets (id, name, format, row_count, columns_json, statistics_json, sha256, size_bytes, created_at, image_json)
                VALUES (@id, @name, @format, @rows, @columns::jsonb, @statistics::jsonb, @sha256, @size, @created, @image::jsonb)
                """, CancellationToken.None, ("id", info.Id), ("name", info.Name), ("format", info.Format), ("rows", info.Rows),
                ("columns", StoreJson.Serialize(info.Columns)), ("statistics", StoreJson.Serialize(info.Statistics)),
                ("sha256", info.Sha256), ("size", info.SizeBytes), ("created", info.CreatedAt),
                ("image", info.Image is null ? null : StoreJson.Serialize(info.Image)));
        }
        catch
        {
            File.Delete(file);
            throw;
        }
        return info;
    }

    public async Task<DatasetInfo?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await QueryAsync(connection, "SELECT * FROM datasets WHERE id = @id", cancellationToken, ("id", id))).FirstOrDefault();
    }

    public async Task<IReadOnlyList<DatasetInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await QueryAsync(connection, "SELECT * FROM datasets ORDER BY created_at, id", cancellationToken);
    }

    public async Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        bool deleted;
        await using (var connection = await database.OpenAsync(cancellationToken))
            deleted = await ExecuteAsync(connection, null, "DELETE FROM datasets WHERE id = @id", cancellationToken, ("id", id)) > 0;
        if (deleted)
            File.Delete(folder.DatasetFile(id));
        return deleted;
    }

    public async Task<NumericTable?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        var info = await GetAsync(id, cancellationToken);
        if (info is null)
            return null;
        return await folder.ReadDatasetAsync(id, info.Columns, cancellationToken);
    }

    static async Task<List<DatasetInfo>> QueryAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Create(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<DatasetInfo>();
        while (await reader.ReadAsync(cancellationToken))
            result.Add(new DatasetInfo(
                reader.GetString(reader.GetOrdinal("id")),
                reader.GetString(reader.GetOrdinal("name")),
                reader.GetString(reader.GetOrdinal("format")),
                reader.GetInt32(reader.GetOrdinal("row_count")),
                StoreJson.Deserialize<string[]>(reader.GetString(reader.GetOrdinal("columns_json"))),
                StoreJson.Deserialize<ColumnStatistics[]>(reader.GetString(reader.GetOrdinal("statistics_json"))),
                reader.GetString(reader.GetOrdinal("sha256")),
                reader.GetInt64(reader.GetOrdinal("size_bytes")),
                Timestamp(reader, "created_at"),
                reader.IsDBNull(reader.GetOrdinal("image_json")) ? null : StoreJson.Deserialize<DatasetImage>(reader.GetString(reader.GetOrdinal("image_json")))));
        return result;
    }
}
