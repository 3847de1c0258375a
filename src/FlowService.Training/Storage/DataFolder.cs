namespace FlowService.Training.Storage;

/// <summary>
/// Where the service keeps its files under <c>FlowService:DataPath</c> (in scale-out, a volume every replica
/// mounts): the SQLite database of the embedded mode,
/// uploaded datasets (float64 .npy), per-job training state (resumable checkpoints) and the
/// immutable checkpoints of registered model versions.
/// </summary>
public sealed class DataFolder
{
    public DataFolder(string root)
    {
        Root = Path.GetFullPath(root);
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public string DatabasePath => Path.Combine(Root, "flowservice.db");

    public string DatasetFile(string datasetId) => Path.Combine(Root, "datasets", $"{datasetId}.npy");

    /// <summary>
    /// A stored dataset's rows. The file was validated when it was uploaded, so the upload limits do not apply again
    /// (they may have been lowered since).
    /// </summary>
    public async Task<Datasets.NumericTable> ReadDatasetAsync(string datasetId, IReadOnlyList<string> columns, CancellationToken cancellationToken)
    {
        byte[] bytes = await File.ReadAllBytesAsync(DatasetFile(datasetId), cancellationToken);
        var unlimited = new Datasets.DatasetLimits { MaxRows = int.MaxValue, MaxColumns = int.MaxValue, MaxUploadBytes = long.MaxValue };
        return Datasets.NpyFormat.Parse(bytes, unlimited, columns);
    }

    /// <summary>The folder a running job writes its per-epoch training state into; removed when the job ends.</summary>
    public string JobStateFolder(string jobId) => Path.Combine(Root, "jobs", jobId);

    /// <summary>
    /// The folder of a model version's checkpoint relative to the root (the registry stores it relative,
    /// so a data folder can move or be mounted elsewhere), named by the job that produced it.
    /// </summary>
    public static string CheckpointFolder(string model, string jobId) => Path.Combine("models", model, jobId);

    /// <summary>
    /// The checkpoint folder a job's attempt writes: two workers that both finished the same job (one of them
    /// after its lease ran out) never write into one folder, so the folder the registry recorded is never overwritten.
    /// </summary>
    public static string CheckpointFolder(string model, string jobId, int attempt) => Path.Combine("models", model, $"{jobId}-{attempt}");

    /// <summary>An absolute path for a path relative to the root.</summary>
    public string Resolve(string relative) => Path.GetFullPath(Path.Combine(Root, relative));
}
