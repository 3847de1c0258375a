using FlowService.Model.Targets;
using FlowService.Training.Storage;
using Microsoft.Data.Sqlite;

namespace FlowService.Training.Jobs;

/// <summary>
/// The embedded job queue: a SQLite table. Claims run in an IMMEDIATE transaction (SQLite's write
/// lock), so two workers of one process never claim the same job. One process owns the file, so a lease
/// needs no expiry here: the attempt number alone fences a worker's writes, and every Running job is
/// abandoned when the process starts again.
/// </summary>
public sealed class SqliteJobStore(SqliteDatabase database) : IJobStore
{
    /// <summary>Owners with at least <c>$limit</c> running jobs: their queued jobs wait (<see cref="TryClaimAsync"/>).</summary>
    const string BusyOwners = """
        WITH busy AS (
            SELECT json_extract(request_json, '$.owner') AS owner FROM jobs
            WHERE state = 'running' AND json_extract(request_json, '$.owner') IS NOT NULL
            GROUP BY 1 HAVING COUNT(*) >= $limit)
        """;

    const string NotBusy = "(json_extract(request_json, '$.owner') IS NULL OR json_extract(request_json, '$.owner') NOT IN (SELECT owner FROM busy))";

    public async Task<JobRecord> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default)
    {
        string id = Guid.CreateVersion7().ToString("N");
        using (var connection = database.Open())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = """
                INSERT INTO jobs (id, model, dataset_id, request_json, state, epochs, created_at)
                VALUES ($id, $model, $dataset, $request, 'queued', $epochs, $created)
                """;
            command.Parameters.AddWithValue("$id", id);
            command.Parameters.AddWithValue("$model", request.Model);
            command.Parameters.AddWithValue("$dataset", request.DatasetId);
            command.Parameters.AddWithValue("$request", StoreJson.Serialize(request));
            command.Parameters.AddWithValue("$epochs", request.Training.Epochs);
            command.Parameters.AddWithValue("$created", StoreJson.Timestamp(DateTimeOffset.UtcNow));
            command.ExecuteNonQuery();
        }
        return (await GetAsync(id, cancellationToken))!;
    }

    public Task<JobRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        return Task.FromResult(Get(connection, null, id));
    }

    public Task<IReadOnlyList<JobRecord>> ListAsync(JobState? state = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = state is null
            ? "SELECT id FROM jobs ORDER BY created_at DESC, id DESC LIMIT $limit"
            : "SELECT id FROM jobs WHERE state = $state ORDER BY created_at DESC, id DESC LIMIT $limit";
        command.Parameters.AddWithValue("$limit", limit);
        if (state is not null)
            command.Parameters.AddWithValue("$state", Name(state.Value));
        var ids = new List<string>();
        using (var reader = command.ExecuteReader())
            while (reader.Read())
                ids.Add(reader.GetString(0));
        return Task.FromResult<IReadOnlyList<JobRecord>>(ids.Select(id => Get(connection, null, id)!).ToList());
    }

    public Task<JobRecord?> TryClaimAsync(string workerId, TimeSpan lease, int runningPerOwner = 0, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        string? id;
        using (var pick = connection.CreateCommand())
        {
            pick.Transaction = transaction;
            // The running count is read inside the IMMEDIATE transaction, so it cannot change before the claim is written.
            pick.CommandText = runningPerOwner > 0 ? $"{BusyOwners} SELECT id FROM jobs WHERE state = 'queued' AND {NotBusy} ORDER BY created_at, id LIMIT 1"
                : "SELECT id FROM jobs WHERE state = 'queued' ORDER BY created_at, id LIMIT 1";
            pick.Parameters.AddWithValue("$limit", runningPerOwner);
            id = pick.ExecuteScalar() as string;
        }
        if (id is null)
            return Task.FromResult<JobRecord?>(null);
        Execute(connection, transaction, """
            UPDATE jobs SET state = 'running', worker_id = $worker, attempts = attempts + 1,
                started_at = COALESCE(started_at, $now)
            WHERE id = $id
            """, ("$id", id), ("$worker", workerId), ("$now", StoreJson.Timestamp(DateTimeOffset.UtcNow)));
        var job = Get(connection, transaction, id);
        transaction.Commit();
        return Task.FromResult(job);
    }

    public Task<JobLeaseStatus> RenewLeaseAsync(string id, int attempt, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT cancel_requested FROM jobs WHERE id = $id AND state = 'running' AND attempts = $attempt";
        command.Parameters.AddWithValue("$id", id);
        command.Parameters.AddWithValue("$attempt", attempt);
        return Task.FromResult(command.ExecuteScalar() switch
        {
            null => JobLeaseStatus.Lost,
            var flag when Convert.ToInt64(flag) == 1 => JobLeaseStatus.CancelRequested,
            _ => JobLeaseStatus.Held,
        });
    }

    public Task<bool> ReleaseAsync(string id, int attempt, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        return Task.FromResult(Execute(connection, null, $"UPDATE jobs SET state = 'queued', worker_id = NULL WHERE {Held}", ("$id", id), ("$attempt", attempt)) == 1);
    }

    public Task<bool> RecordEpochAsync(string id, int attempt, EpochRecord epoch, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        Execute(connection, transaction, """
            INSERT OR REPLACE INTO job_epochs (job_id, epoch, train_nll, validation_nll, samples_per_second, seconds, importance_json)
            VALUES ($id, $epoch, $train, $validation, $rate, $seconds, $importance)
            """, ("$id", id), ("$epoch", epoch.Epoch), ("$train", epoch.TrainNll), ("$validation", epoch.ValidationNll),
            ("$rate", epoch.SamplesPerSecond), ("$seconds", epoch.Seconds), ("$importance", epoch.Importance is null ? null : StoreJson.Serialize(epoch.Importance)));
        int updated = Execute(connection, transaction, $"""
            UPDATE jobs SET epoch = $epoch, samples_per_second = $rate,
                running_seconds = (SELECT COALESCE(SUM(seconds), 0) FROM job_epochs WHERE job_id = $id)
            WHERE {Held}
            """, ("$id", id), ("$attempt", attempt), ("$epoch", epoch.Epoch), ("$rate", epoch.SamplesPerSecond));
        if (updated == 0)
            return Task.FromResult(false);
        transaction.Commit();
        return Task.FromResult(true);
    }

    public Task<bool> TruncateHistoryAsync(string id, int attempt, int lastEpoch, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        Execute(connection, transaction, "DELETE FROM job_epochs WHERE job_id = $id AND epoch > $epoch", ("$id", id), ("$epoch", lastEpoch));
        int updated = Execute(connection, transaction, $"""
            UPDATE jobs SET epoch = $epoch,
                running_seconds = (SELECT COALESCE(SUM(seconds), 0) FROM job_epochs WHERE job_id = $id)
            WHERE {Held}
            """, ("$id", id), ("$attempt", attempt), ("$epoch", lastEpoch));
        if (updated == 0)
            return Task.FromResult(false);
        transaction.Commit();
        return Task.FromResult(true);
    }

    public Task<bool> CompleteAsync(string id, int attempt, int modelVersion, CancellationToken cancellationToken = default) =>
        Finish(id, attempt, JobState.Succeeded, null, modelVersion);

    public Task<bool> FailAsync(string id, int attempt, string error, CancellationToken cancellationToken = default) =>
        Finish(id, attempt, JobState.Failed, error, null);

    public Task<bool> MarkCancelledAsync(string id, int attempt, CancellationToken cancellationToken = default) =>
        Finish(id, attempt, JobState.Cancelled, null, null);

    public Task<JobRecord?> RequestCancelAsync(string id, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var transaction = connection.BeginTransaction(deferred: false);
        Execute(connection, transaction, """
            UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_at = $now WHERE id = $id AND state = 'queued'
            """, ("$id", id), ("$now", StoreJson.Timestamp(DateTimeOffset.UtcNow)));
        Execute(connection, transaction, "UPDATE jobs SET cancel_requested = 1 WHERE id = $id AND state = 'running'", ("$id", id));
        var job = Get(connection, transaction, id);
        transaction.Commit();
        return Task.FromResult(job);
    }

    public Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT cancel_requested FROM jobs WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        return Task.FromResult(Convert.ToInt64(command.ExecuteScalar() ?? 0L) == 1);
    }

    public Task<int> RequeueAbandonedAsync(CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        return Task.FromResult(Execute(connection, null, "UPDATE jobs SET state = 'queued', worker_id = NULL WHERE state = 'running'"));
    }

    public Task<bool> HasActiveJobsForDatasetAsync(string datasetId, CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM jobs WHERE dataset_id = $id AND state IN ('queued', 'running')";
        command.Parameters.AddWithValue("$id", datasetId);
        return Task.FromResult(Convert.ToInt64(command.ExecuteScalar()) > 0);
    }

    public Task<IReadOnlyDictionary<JobState, int>> CountByStateAsync(CancellationToken cancellationToken = default)
    {
        using var connection = database.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT state, COUNT(*) FROM jobs GROUP BY state";
        var counts = Enum.GetValues<JobState>().ToDictionary(s => s, _ => 0);
        using var reader = command.ExecuteReader();
        while (reader.Read())
            counts[Parse(reader.GetString(0))] = reader.GetInt32(1);
        return Task.FromResult<IReadOnlyDictionary<JobState, int>>(counts);
    }

    /// <summary>The condition of every write a worker makes about its job: still running under its attempt.</summary>
    const string Held = "id = $id AND state = 'running' AND attempts = $attempt";

    Task<bool> Finish(string id, int attempt, JobState state, string? error, int? version)
    {
        using var connection = database.Open();
        int updated = Execute(connection, null, $"""
            UPDATE jobs SET state = $state, error = $error, model_version = $version, finished_at = $now, worker_id = NULL
            WHERE {Held}
            """, ("$id", id), ("$attempt", attempt), ("$state", Name(state)), ("$error", error), ("$version", version),
            ("$now", StoreJson.Timestamp(DateTimeOffset.UtcNow)));
        return Task.FromResult(updated == 1);
    }

    static JobRecord? Get(SqliteConnection connection, SqliteTransaction? transaction, string id)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT * FROM jobs WHERE id = $id";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        if (!reader.Read())
            return null;
        string? Text(string column) => reader.IsDBNull(reader.GetOrdinal(column)) ? null : reader.GetString(reader.GetOrdinal(column));
        var history = ReadHistory(connection, transaction, id);
        return new JobRecord(
            id,
            StoreJson.Deserialize<JobRequest>(reader.GetString(reader.GetOrdinal("request_json"))),
            Parse(reader.GetString(reader.GetOrdinal("state"))),
            reader.GetInt32(reader.GetOrdinal("epoch")),
            reader.GetInt32(reader.GetOrdinal("epochs")),
            reader.IsDBNull(reader.GetOrdinal("samples_per_second")) ? null : reader.GetDouble(reader.GetOrdinal("samples_per_second")),
            Text("error"),
            reader.IsDBNull(reader.GetOrdinal("model_version")) ? null : reader.GetInt32(reader.GetOrdinal("model_version")),
            reader.GetInt64(reader.GetOrdinal("cancel_requested")) == 1,
            reader.GetInt32(reader.GetOrdinal("attempts")),
            StoreJson.ParseTimestamp(reader.GetString(reader.GetOrdinal("created_at"))),
            Text("started_at") is { } started ? StoreJson.ParseTimestamp(started) : null,
            Text("finished_at") is { } finished ? StoreJson.ParseTimestamp(finished) : null,
            reader.GetDouble(reader.GetOrdinal("running_seconds")),
            history);
    }

    static List<EpochRecord> ReadHistory(SqliteConnection connection, SqliteTransaction? transaction, string id)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT epoch, train_nll, validation_nll, samples_per_second, seconds, importance_json FROM job_epochs WHERE job_id = $id ORDER BY epoch";
        command.Parameters.AddWithValue("$id", id);
        using var reader = command.ExecuteReader();
        var history = new List<EpochRecord>();
        while (reader.Read())
            history.Add(new EpochRecord(reader.GetInt32(0), reader.GetDouble(1), reader.GetDouble(2), reader.GetDouble(3), reader.GetDouble(4),
                reader.IsDBNull(5) ? null : StoreJson.Deserialize<ImportanceStatistics>(reader.GetString(5))));
        return history;
    }

    static int Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql, params (string Name, object? Value)[] parameters)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
            command.Parameters.AddWithValue(name, value ?? DBNull.Value);
        return command.ExecuteNonQuery();
    }

    static string Name(JobState state) => state.ToString().ToLowerInvariant();

    static JobState Parse(string state) => Enum.Parse<JobState>(state, ignoreCase: true);
}
