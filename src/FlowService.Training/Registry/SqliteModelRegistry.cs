using System.Text.Json;
using FlowService.Training.Jobs;
using FlowService.Training.Storage;
using Microsoft.Data.Sqlite;

namespace FlowService.Training.Registry;

/// <summary>
/// The embedded registry. A version number is taken from the model's <c>next_version</c> counter in
/// the same IMMEDIATE transaction that inserts the version row, so numbers are dense and unique.
/// </summary>
public sealed class SqliteModelRegistry(SqliteDatabase database, DataFolder folder) : IModelRegistry
{
    public const string DefaultAlias = "production";

    public Task<ModelVersion> RegisterAsync(NewModelVersion v, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        var existing = Query(connection, transaction, "SELECT * FROM model_versions WHERE job_id = $job", ("$job", v.JobId)).FirstOrDefault();
        if (existing is not null)
            return Task.FromResult(existing);
        string now = StoreJson.Timestamp(DateTimeOffset.UtcNow);
        Execute(connection, transaction, "INSERT OR IGNORE INTO models (name, next_version, created_at) VALUES ($name, 1, $now)", ("$name", v.Model), ("$now", now));
        int number;
        using (var next = connection.CreateCommand())
        {
            next.Transaction = transaction;
            next.CommandText = "UPDATE models SET next_version = next_version + 1 WHERE name = $name RETURNING next_version - 1";
            next.Parameters.AddWithValue("$name", v.Model);
            number = Convert.ToInt32(next.ExecuteScalar());
        }
        Execute(connection, transaction, """
            INSERT INTO model_versions (model, version, job_id, dataset_id, dataset_sha256, columns_json, context_columns_json,
                flow_json, training_json, metrics_json, calibration_json, checkpoint_folder, checkpoint_sha256, created_at, target_json)
            VALUES ($model, $version, $job, $dataset, $sha, $columns, $context, $flow, $training, $metrics, $calibration, $folder, $checkpointSha, $now, $target)
            """,
            ("$model", v.Model), ("$version", number), ("$job", v.JobId), ("$dataset", v.DatasetId), ("$sha", v.DatasetSha256),
            ("$columns", StoreJson.Serialize(v.Columns)), ("$context", StoreJson.Serialize(v.ContextColumns)),
            ("$flow", v.Flow.GetRawText()), ("$training", StoreJson.Serialize(v.Training)), ("$metrics", StoreJson.Serialize(v.Metrics)),
            ("$calibration", StoreJson.Serialize(v.Calibration)), ("$folder", v.CheckpointFolder), ("$checkpointSha", v.CheckpointSha256), ("$now", now),
            ("$target", v.Target?.GetRawText()));
        var created = Query(connection, transaction, "SELECT * FROM model_versions WHERE model = $m AND version = $v", ("$m", v.Model), ("$v", number)).Single();
        transaction.Commit();
        return Task.FromResult(created);
    }

    public Task<IReadOnlyList<ModelSummary>> ListAsync(CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        var names = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT name FROM models ORDER BY name";
            using var reader = command.ExecuteReader();
            while (reader.Read())
                names.Add(reader.GetString(0));
        }
        return Task.FromResult<IReadOnlyList<ModelSummary>>(names.Select(n => Summary(connection, n)!).ToList());
    }

    public Task<ModelSummary?> GetModelAsync(string name, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        return Task.FromResult(Summary(connection, name));
    }

    public Task<ModelVersion?> GetVersionAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        return Task.FromResult(Query(connection, null, "SELECT * FROM model_versions WHERE model = $m AND version = $v", ("$m", name), ("$v", version)).FirstOrDefault());
    }

    public Task<ModelVersion?> FindByJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        return Task.FromResult(Query(connection, null, "SELECT * FROM model_versions WHERE job_id = $job", ("$job", jobId)).FirstOrDefault());
    }

    public Task<bool> SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        if (!Query(connection, transaction, "SELECT * FROM model_versions WHERE model = $m AND version = $v", ("$m", name), ("$v", version)).Any())
            return Task.FromResult(false);
        Execute(connection, transaction, """
            INSERT INTO model_aliases (model, alias, version, updated_at) VALUES ($m, $a, $v, $now)
            ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at
            """, ("$m", name), ("$a", alias), ("$v", version), ("$now", StoreJson.Timestamp(DateTimeOffset.UtcNow)));
        transaction.Commit();
        return Task.FromResult(true);
    }

    public Task<DeleteVersionResult> DeleteVersionAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        var found = Query(connection, transaction, "SELECT * FROM model_versions WHERE model = $m AND version = $v", ("$m", name), ("$v", version)).FirstOrDefault();
        if (found is null)
            return Task.FromResult(new DeleteVersionResult(false, true, []));
        var aliases = Aliases(connection, transaction, name).Where(a => a.Value == version).Select(a => a.Key).ToList();
        if (aliases.Count > 0)
            return Task.FromResult(new DeleteVersionResult(false, false, aliases));
        Execute(connection, transaction, "DELETE FROM model_versions WHERE model = $m AND version = $v", ("$m", name), ("$v", version));
        transaction.Commit();
        string checkpoint = folder.Resolve(found.CheckpointFolder);
        if (Directory.Exists(checkpoint))
            Directory.Delete(checkpoint, recursive: true);
        return Task.FromResult(new DeleteVersionResult(true, false, []));
    }

    public async Task<int?> ResolveDefaultAsync(string name, CancellationToken cancellationToken = default)
    {
        var model = await GetModelAsync(name, cancellationToken);
        if (model is null)
            return null;
        return model.Aliases.TryGetValue(DefaultAlias, out int production) ? production : model.Latest;
    }

    static ModelSummary? Summary(SqliteConnection connection, string name)
    {
        string? created;
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT created_at FROM models WHERE name = $name";
            command.Parameters.AddWithValue("$name", name);
            created = command.ExecuteScalar() as string;
        }
        if (created is null)
            return null;
        var versions = new List<int>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT version FROM model_versions WHERE model = $name ORDER BY version";
            command.Parameters.AddWithValue("$name", name);
            using var reader = command.ExecuteReader();
            while (reader.Read())
                versions.Add(reader.GetInt32(0));
        }
        return new ModelSummary(name, versions, Aliases(connection, null, name), StoreJson.ParseTimestamp(created));
    }

    static Dictionary<string, int> Aliases(SqliteConnection connection, SqliteTransaction? transaction, string name)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT alias, version FROM model_aliases WHERE model = $name ORDER BY alias";
        command.Parameters.AddWithValue("$name", name);
        using var reader = command.ExecuteReader();
        var aliases = new Dictionary<string, int>(StringComparer.Ordinal);
        while (reader.Read())
            aliases[reader.GetString(0)] = reader.GetInt32(1);
        return aliases;
    }

    static List<ModelVersion> Query(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (n, value) in parameters)
            command.Parameters.AddWithValue(n, value);
        using var reader = command.ExecuteReader();
        var result = new List<ModelVersion>();
        while (reader.Read())
        {
            string S(string column) => reader.GetString(reader.GetOrdinal(column));
            using var flow = JsonDocument.Parse(S("flow_json"));
            result.Add(new ModelVersion(
                S("model"), reader.GetInt32(reader.GetOrdinal("version")), S("job_id"), S("dataset_id"), S("dataset_sha256"),
                StoreJson.Deserialize<string[]>(S("columns_json")), StoreJson.Deserialize<string[]>(S("context_columns_json")),
                flow.RootElement.Clone(), StoreJson.Deserialize<TrainingParameters>(S("training_json")),
                StoreJson.Deserialize<ModelMetrics>(S("metrics_json")), StoreJson.Deserialize<AnomalyCalibration>(S("calibration_json")),
                S("checkpoint_folder"), S("checkpoint_sha256"), StoreJson.ParseTimestamp(S("created_at")), Target(reader)));
        }
        return result;
    }

    static JsonElement? Target(SqliteDataReader reader)
    {
        int column = reader.GetOrdinal("target_json");
        if (reader.IsDBNull(column))
            return null;
        using var document = JsonDocument.Parse(reader.GetString(column));
        return document.RootElement.Clone();
    }

    static void Execute(SqliteConnection connection, SqliteTransaction transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (n, value) in parameters)
            command.Parameters.AddWithValue(n, value ?? DBNull.Value);
        command.ExecuteNonQuery();
    }
}
