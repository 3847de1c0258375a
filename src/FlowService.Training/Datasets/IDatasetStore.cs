namespace FlowService.Training.Datasets;

/// <summary>
/// Stores datasets: metadata in the database, values in the data folder. Implemented by
/// <see cref="SqliteDatasetStore"/> (embedded) and <see cref="PostgresDatasetStore"/> (scale-out).
/// </summary>
public interface IDatasetStore
{
    /// <summary>Stores a validated table; the values are durable before the metadata row is committed.</summary>
    Task<DatasetInfo> AddAsync(string name, DatasetFormat format, NumericTable table, string sha256, long sizeBytes, CancellationToken cancellationToken = default);

    Task<DatasetInfo?> GetAsync(string id, CancellationToken cancellationToken = default);

    Task<IReadOnlyList<DatasetInfo>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Removes the dataset's row and file; false when there was none.</summary>
    Task<bool> DeleteAsync(string id, CancellationToken cancellationToken = default);

    /// <summary>The stored values, or null when the dataset does not exist.</summary>
    Task<NumericTable?> LoadAsync(string id, CancellationToken cancellationToken = default);
}
