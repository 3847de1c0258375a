using FlowService.Training.Storage;
using Microsoft.Data.Sqlite;

namespace FlowService.Training.Datasets;

/// <summary>The embedded dataset store: a row in SQLite, the values as a float64 .npy in the data folder.</summary>
public sealed class SqliteDatasetStore(SqliteDatabase database, DataFolder folder) : IDatasetStore
{
    public Task<DatasetInfo> AddAsync(string name, DatasetFormat format, NumericTable table, string sha256, long sizeBytes, CancellationToken cancellationToken = default)
    {
        var info = new DatasetInfo(
            Guid.CreateVersion7().ToString("N"), name, format.ToString().ToLowerInvariant(), table.Rows, table.Columns.ToArray(),
            ColumnStatistics.Compute(table), sha256, sizeBytes, DateTimeOffset.UtcNow, table.Image);
        string file = folder.DatasetFile(info.Id);
        AtomicFile.Write(file, stream => NpyFormat.WriteFloat64(stream, table));
        try
        {
            using var connection = database.Open();
            using var command = connection.CreateCommand();
            command.CommandText = """
                INSERT INTO datasets (id, name, format, row_count, columns_json, statistics_json, sha256, size_bytes, created_at, image_json)
                VALUES ($id, $name, $format, $rows, $columns, $statistics, $sha256, $size, $created, $image)
                """;
            command.Parameters.AddWithValue("$id", info.Id);
            command.Parameters.AddWithValue("$name", info.Name);
            command.Parameters.AddWithValue("$format", info.Format);
            command.Parameters.AddWithValue("$rows", info.Rows);
            command.Parameters.AddWithValue("$columns", StoreJson.Serialize(info.Columns));
            command.Parameters.AddWithValue("$statistics", StoreJson.Serialize(info.Statistics));
            command.Parameters.AddWithValue("$sha256", info.Sha256);
            command.Parameters.AddWithValue("$size", info.SizeBytes);
            command.Parameters.AddWithValue("$created", StoreJson.Timestamp(info.CreatedAt));
            command.Parameters.AddWithValue("$image", info.Image is null ? DBNull.Value : StoreJson.Serialize(info.Image));
            command.ExecuteNonQuery();
        }
        catch
        {
            File.Delete(file);
            throw;
        }
        return Task.FromResult(info);
    }

    public Task<DatasetInfo?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM datasets WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        return Task.FromResult(reader.Read() ? Read(reader) : null);
    }

    public Task<IReadOnlyList<DatasetInfo>> ListAsync(CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT * FROM datasets ORDER BY created_at, id";
        using var reader = command.ExecuteReader();
        var result = new List<DatasetInfo>();
        while (reader.Read())
            result.Add(Read(reader));
        return Task.FromResult<IReadOnlyList<DatasetInfo>>(result);
    }

    public Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "DELETE FROM datasets WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        bool deleted = command.ExecuteNonQuery() > 0;
        if (deleted)
            File.Delete(folder.DatasetFile(id));
        return Task.FromResult(deleted);
    }

    public async Task<NumericTable?> LoadAsync(string id, CancellationToken cancellationToken = default)
    {
        var info = await GetAsync(id, cancellationToken);
        if (info is null)
            return null;
        return await folder.ReadDatasetAsync(id, info.Columns, cancellationToken);
    }

    static DatasetInfo Read(SqliteDataReader reader) => new(
        reader.GetString(reader.GetOrdinal("id")),
        reader.GetString(reader.GetOrdinal("name")),
        reader.GetString(reader.GetOrdinal("format")),
        reader.GetInt32(reader.GetOrdinal("row_count")),
        StoreJson.Deserialize<string[]>(reader.GetString(reader.GetOrdinal("columns_json"))),
        StoreJson.Deserialize<ColumnStatistics[]>(reader.GetString(reader.GetOrdinal("statistics_json"))),
        reader.GetString(reader.GetOrdinal("sha256")),
        reader.GetInt64(reader.GetOrdinal("size_bytes")),
        StoreJson.ParseTimestamp(reader.GetString(reader.GetOrdinal("created_at"))),
        reader.IsDBNull(reader.GetOrdinal("image_json")) ? null : StoreJson.Deserialize<DatasetImage>(reader.GetString(reader.GetOrdinal("image_json"))));
}
