namespace FlowService.Training.Datasets;

/// <summary>What the registry knows about a stored dataset; the values themselves are loaded on demand. <see cref="Image"/> is set for image datasets.</summary>
public sealed record DatasetInfo(
    string Id,
    string Name,
    string Format,
    int Rows,
    IReadOnlyList<string> Columns,
    IReadOnlyList<ColumnStatistics> Statistics,
    string Sha256,
    long SizeBytes,
    DateTimeOffset CreatedAt,
    DatasetImage? Image = null);
