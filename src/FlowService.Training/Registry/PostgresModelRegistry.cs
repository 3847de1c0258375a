using System.Text.Json;
using FlowService.Training.Jobs;
using FlowService.Training.Storage;
using Npgsql;
using static FlowService.Training.Storage.PostgresCommand;

namespace FlowService.Training.Registry;

/// <summary>
/// The shared registry. Every change to a model (a new version, an alias move, a delete) first locks the
/// model's row (<c>SELECT ... FOR UPDATE</c>), so concurrent completions on many workers take version
/// numbers one after another from <c>next_version</c>: dense, unique, never reused. Reads are single
/// statements, so a summary is one snapshot: its aliases always point at versions in its list.
/// Nothing is cached; every replica reads the current aliases on each request.
/// </summary>
public sealed class PostgresModelRegistry(PostgresDatabase database, DataFolder folder) : IModelRegistry
{
    const string SelectSummary = """
        SELECT m.name, m.created_at,
            ARRAY(SELECT v.version FROM model_versions v WHERE v.model = m.name ORDER BY v.version) AS versions,
            ARRAY(SELECT a.alias FROM model_aliases a WHERE a.model = m.name ORDER BY a.alias) AS alias_names,
            ARRAY(SELECT a.version FROM model_aliases a WHERE a.model = m.name ORDER BY a.alias) AS alias_versions
        FROM models m
        """;

    public async Task<ModelVersion> RegisterAsync(NewModelVersion v, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, transaction, "INSERT INTO models (name, next_version, created_at) VALUES (@name, 1, now()) ON CONFLICT (name) DO NOTHING",
            cancellationToken, ("name", v.Model));
        await LockModelAsync(connection, transaction, v.Model, cancellationToken);
        // Under the model's lock, a registration of the same job by another worker has either committed (found here) or not begun.
        var existing = (await QueryAsync(connection, transaction, "SELECT * FROM model_versions WHERE job_id = @job", cancellationToken, ("job", v.JobId))).FirstOrDefault();
        if (existing is not null)
            return existing;
        int number = Convert.ToInt32(await ScalarAsync(connection, transaction,
            "UPDATE models SET next_version = next_version + 1 WHERE name = @name RETURNING next_version - 1", cancellationToken, ("name", v.Model)));
        var created = (await QueryAsync(connection, transaction, """
            INSERT INTO model_versions (model, version, job_id, dataset_id, dataset_sha256, columns_json, context_columns_json,
                flow_json, training_json, metrics_json, calibration_json, checkpoint_folder, checkpoint_sha256, created_at, target_json)
            VALUES (@model, @version, @job, @dataset, @sha, @columns::jsonb, @context::jsonb, @flow::jsonb, @training::jsonb, @metrics::jsonb,
                @calibration::jsonb, @folder, @checkpointSha, now(), @target::jsonb)
            RETURNING *
            """, cancellationToken,
            ("model", v.Model), ("version", number), ("job", v.JobId), ("dataset", v.DatasetId), ("sha", v.DatasetSha256),
            ("columns", StoreJson.Serialize(v.Columns)), ("context", StoreJson.Serialize(v.ContextColumns)), ("flow", v.Flow.GetRawText()),
            ("training", StoreJson.Serialize(v.Training)), ("metrics", StoreJson.Serialize(v.Metrics)), ("calibration", StoreJson.Serialize(v.Calibration)),
            ("folder", v.CheckpointFolder), ("checkpointSha", v.CheckpointSha256), ("target", v.Target?.GetRawText()))).Single();
        await transaction.CommitAsync(cancellationToken);
        return created;
    }

    public async Task<IReadOnlyList<ModelSummary>> ListAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await SummariesAsync(connection, $"{SelectSummary} ORDER BY m.name", cancellationToken);
    }

    public async Task<ModelSummary?> GetModelAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await SummariesAsync(connection, $"{SelectSummary} WHERE m.name = @name", cancellationToken, ("name", name))).FirstOrDefault();
    }

    public async Task<ModelVersion?> GetVersionAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await QueryAsync(connection, null, "SELECT * FROM model_versions WHERE model = @m AND version = @v", cancellationToken, ("m", name), ("v", version))).FirstOrDefault();
    }

    public async Task<ModelVersion?> FindByJobAsync(string jobId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await QueryAsync(connection, null, "SELECT * FROM model_versions WHERE job_id = @job", cancellationToken, ("job", jobId))).FirstOrDefault();
    }

    public async Task<bool> SetAliasAsync(string name, string alias, int version, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (!await LockModelAsync(connection, transaction, name, cancellationToken))
            return false;
        int written = await ExecuteAsync(connection, transaction, """
            INSERT INTO model_aliases (model, alias, version, updated_at)
            SELECT model, @a, version, now() FROM model_versions WHERE model = @m AND version = @v
            ON CONFLICT (model, alias) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at
            """, cancellationToken, ("m", name), ("a", alias), ("v", version));
        if (written == 0)
            return false;
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<DeleteVersionResult> DeleteVersionAsync(string name, int version, CancellationToken cancellationToken = default)
    {
        ModelVersion? found;
        await using (var connection = await database.OpenAsync(cancellationToken))
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            if (!await LockModelAsync(connection, transaction, name, cancellationToken))
                return new DeleteVersionResult(false, true, []);
            found = (await QueryAsync(connection, transaction, "SELECT * FROM model_versions WHERE model = @m AND version = @v", cancellationToken,
                ("m", name), ("v", version))).FirstOrDefault();
            if (found is null)
                return new DeleteVersionResult(false, true, []);
            var aliases = new List<string>();
            await using (var command = Create(connection, transaction, "SELECT alias FROM model_aliases WHERE model = @m AND version = @v ORDER BY alias",
                ("m", name), ("v", version)))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
                while (await reader.ReadAsync(cancellationToken))
                    aliases.Add(reader.GetString(0));
            if (aliases.Count > 0)
                return new DeleteVersionResult(false, false, aliases);
            await ExecuteAsync(connection, transaction, "DELETE FROM model_versions WHERE model = @m AND version = @v", cancellationToken, ("m", name), ("v", version));
            await transaction.CommitAsync(cancellationToken);
        }
        // The row is gone before the files: no version ever points at a missing checkpoint.
        string checkpoint = folder.Resolve(found.CheckpointFolder);
        if (Directory.Exists(checkpoint))
            Directory.Delete(checkpoint, recursive: true);
        return new DeleteVersionResult(true, false, []);
    }

    public async Task<int?> ResolveDefaultAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var resolved = await ScalarAsync(connection, null, """
            SELECT COALESCE(
                (SELECT version FROM model_aliases WHERE model = @m AND alias = @alias),
                (SELECT MAX(version) FROM model_versions WHERE model = @m))
            """, cancellationToken, ("m", name), ("alias", SqliteModelRegistry.DefaultAlias));
        return resolved is null ? null : Convert.ToInt32(resolved);
    }

    /// <summary>Locks the model's row until the transaction ends; false when no such model exists.</summary>
    static async Task<bool> LockModelAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string name, CancellationToken cancellationToken) =>
        await ScalarAsync(connection, transaction, "SELECT 1 FROM models WHERE name = @name FOR UPDATE", cancellationToken, ("name", name)) is not null;

    static async Task<List<ModelSummary>> SummariesAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters)
    {
        await using var command = Create(connection, null, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<ModelSummary>();
        while (await reader.ReadAsync(cancellationToken))
        {
            var names = reader.GetFieldValue<string[]>(reader.GetOrdinal("alias_names"));
            var targets = reader.GetFieldValue<int[]>(reader.GetOrdinal("alias_versions"));
            var aliases = new Dictionary<string, int>(StringComparer.Ordinal);
            for (int i = 0; i < names.Length; i++)
                aliases[names[i]] = targets[i];
            result.Add(new ModelSummary(reader.GetString(reader.GetOrdinal("name")), reader.GetFieldValue<int[]>(reader.GetOrdinal("versions")),
                aliases, Timestamp(reader, "created_at")));
        }
        return result;
    }

    static async Task<List<ModelVersion>> QueryAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql,
        CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Create(connection, transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var result = new List<ModelVersion>();
        while (await reader.ReadAsync(cancellationToken))
        {
            string S(string column) => reader.GetString(reader.GetOrdinal(column));
            using var flow = JsonDocument.Parse(S("flow_json"));
            result.Add(new ModelVersion(
                S("model"), reader.GetInt32(reader.GetOrdinal("version")), S("job_id"), S("dataset_id"), S("dataset_sha256"),
                StoreJson.Deserialize<string[]>(S("columns_json")), StoreJson.Deserialize<string[]>(S("context_columns_json")),
                flow.RootElement.Clone(), StoreJson.Deserialize<TrainingParameters>(S("training_json")),
                StoreJson.Deserialize<ModelMetrics>(S("metrics_json")), StoreJson.Deserialize<AnomalyCalibration>(S("calibration_json")),
                S("checkpoint_folder"), S("checkpoint_sha256"), Timestamp(reader, "created_at"), Target(reader)));
        }
        return result;
    }

    static JsonElement? Target(NpgsqlDataReader reader)
    {
        int column = reader.GetOrdinal("target_json");
        if (reader.IsDBNull(column))
            return null;
        using var document = JsonDocument.Parse(reader.GetString(column));
        return document.RootElement.Clone();
    }
}
