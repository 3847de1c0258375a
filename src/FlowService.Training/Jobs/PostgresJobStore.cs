using System.Text.Json;
using FlowService.Model.Targets;
using FlowService.Training.Storage;
using Npgsql;
using static FlowService.Training.Storage.PostgresCommand;

namespace FlowService.Training.Jobs;

/// <summary>
/// The shared job queue for many workers. A claim picks the oldest claimable row with
/// <c>FOR UPDATE SKIP LOCKED</c> (workers polling at once take different jobs, never the same one) and
/// gives it a lease that expires at the database's clock; the worker renews it by heartbeat. A job whose
/// lease expired (its worker died or was cut off) is claimable again and resumes from its checkpoint.
/// Every write a worker makes is fenced by its attempt number, so a worker that lost the lease writes nothing.
/// </summary>
public sealed class PostgresJobStore(PostgresDatabase database) : IJobStore
{
    /// <summary>The condition of every write a worker makes about its job: still running under its attempt.</summary>
    const string Held = "id = @id AND state = 'running' AND attempts = @attempt";

    /// <summary>Queued, or running under a lease that expired (its worker died): what a claim may take.</summary>
    const string Claimable = "state = 'queued' OR (state = 'running' AND lease_expires_at < now())";

    const string ClaimNext = """
        UPDATE jobs SET state = 'running', worker_id = @worker, attempts = jobs.attempts + 1,
            lease_expires_at = now() + @lease, started_at = COALESCE(jobs.started_at, now())
        FROM next WHERE jobs.id = next.id
        RETURNING jobs.id
        """;

    /// <summary>The advisory lock that serializes claims under a per-owner quota ("flowclm1").</summary>
    const long ClaimLockKey = 0x666C6F77636C6D31;

    const string SelectJob = """
        SELECT j.*, COALESCE((
            SELECT json_agg(json_build_array(e.epoch, e.train_nll, e.validation_nll, e.samples_per_second, e.seconds, e.importance_json) ORDER BY e.epoch)
            FROM job_epochs e WHERE e.job_id = j.id), '[]') AS history
        FROM jobs j
        """;

    public async Task<JobRecord> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default)
    {
        string id = Guid.CreateVersion7().ToString("N");
        await using (var connection = await database.OpenAsync(cancellationToken))
            await ExecuteAsync(connection, null, """
                INSERT INTO jobs (id, model, dataset_id, request_json, state, epochs, created_at)
                VALUES (@id, @model, @dataset, @request::jsonb, 'queued', @epochs, clock_timestamp())
                """, cancellationToken, ("id", id), ("model", request.Model), ("dataset", request.DatasetId),
                ("request", StoreJson.Serialize(request)), ("epochs", request.Training.Epochs));
        return (await GetAsync(id, cancellationToken))!;
    }

    public async Task<JobRecord?> GetAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return (await QueryAsync(connection, null, $"{SelectJob} WHERE j.id = @id", cancellationToken, ("id", id))).FirstOrDefault();
    }

    public async Task<IReadOnlyList<JobRecord>> ListAsync(JobState? state = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        const string order = "ORDER BY j.created_at DESC, j.id DESC LIMIT @limit";
        return state is null
            ? await QueryAsync(connection, null, $"{SelectJob} {order}", cancellationToken, ("limit", limit))
            : await QueryAsync(connection, null, $"{SelectJob} WHERE j.state = @state {order}", cancellationToken, ("state", Name(state.Value)), ("limit", limit));
    }

    public async Task<JobRecord?> TryClaimAsync(string workerId, TimeSpan lease, int runningPerOwner = 0, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        if (runningPerOwner <= 0)
        {
            var any = await ScalarAsync(connection, null, $"""
                WITH next AS (
                    SELECT id FROM jobs WHERE {Claimable}
                    ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
                {ClaimNext}
                """, cancellationToken, ("worker", workerId), ("lease", lease)) as string;
            return any is null ? null : (await QueryAsync(connection, null, $"{SelectJob} WHERE j.id = @id", cancellationToken, ("id", any))).FirstOrDefault();
        }
        // Two workers claiming at once would each count the other's owner's jobs without the other's uncommitted claim
        // and could both take one, going over the quota. Claims with a quota are therefore serialized by an advisory
        // lock held to the end of the transaction; the claim statement then runs on a snapshot taken after the lock,
        // which holds every earlier claim. Claims are a few per poll interval per worker, so the wait is short.
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ScalarAsync(connection, transaction, "SELECT pg_advisory_xact_lock(@key)", cancellationToken, ("key", ClaimLockKey));
        var id = await ScalarAsync(connection, transaction, $"""
            WITH busy AS (
                SELECT request_json->>'owner' AS owner FROM jobs
                WHERE state = 'running' AND lease_expires_at >= now() AND request_json->>'owner' IS NOT NULL
                GROUP BY 1 HAVING count(*) >= @limit),
            next AS (
                SELECT id FROM jobs
                WHERE ({Claimable}) AND (request_json->>'owner' IS NULL OR request_json->>'owner' NOT IN (SELECT owner FROM busy))
                ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
            {ClaimNext}
            """, cancellationToken, ("worker", workerId), ("lease", lease), ("limit", runningPerOwner)) as string;
        await transaction.CommitAsync(cancellationToken);
        return id is null ? null : (await QueryAsync(connection, null, $"{SelectJob} WHERE j.id = @id", cancellationToken, ("id", id))).FirstOrDefault();
    }

    public async Task<JobLeaseStatus> RenewLeaseAsync(string id, int attempt, TimeSpan lease, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        var cancel = await ScalarAsync(connection, null, $"UPDATE jobs SET lease_expires_at = now() + @lease WHERE {Held} RETURNING cancel_requested",
            cancellationToken, ("id", id), ("attempt", attempt), ("lease", lease));
        return cancel switch
        {
            null => JobLeaseStatus.Lost,
            true => JobLeaseStatus.CancelRequested,
            _ => JobLeaseStatus.Held,
        };
    }

    public async Task<bool> ReleaseAsync(string id, int attempt, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null, $"UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires_at = NULL WHERE {Held}",
            cancellationToken, ("id", id), ("attempt", attempt)) == 1;
    }

    public async Task<bool> RecordEpochAsync(string id, int attempt, EpochRecord epoch, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Lock the job row first: a lost lease is found before anything is written, and a concurrent claim waits.
        if (await ScalarAsync(connection, transaction, $"SELECT 1 FROM jobs WHERE {Held} FOR UPDATE", cancellationToken, ("id", id), ("attempt", attempt)) is null)
            return false;
        await ExecuteAsync(connection, transaction, """
            INSERT INTO job_epochs (job_id, epoch, train_nll, validation_nll, samples_per_second, seconds, importance_json)
            VALUES (@id, @epoch, @train, @validation, @rate, @seconds, @importance::jsonb)
            ON CONFLICT (job_id, epoch) DO UPDATE SET train_nll = excluded.train_nll, validation_nll = excluded.validation_nll,
                samples_per_second = excluded.samples_per_second, seconds = excluded.seconds, importance_json = excluded.importance_json
            """, cancellationToken, ("id", id), ("epoch", epoch.Epoch), ("train", epoch.TrainNll), ("validation", epoch.ValidationNll),
            ("rate", epoch.SamplesPerSecond), ("seconds", epoch.Seconds), ("importance", epoch.Importance is null ? null : StoreJson.Serialize(epoch.Importance)));
        await ExecuteAsync(connection, transaction, """
            UPDATE jobs SET epoch = @epoch, samples_per_second = @rate,
                running_seconds = (SELECT COALESCE(SUM(seconds), 0) FROM job_epochs WHERE job_id = @id)
            WHERE id = @id
            """, cancellationToken, ("id", id), ("epoch", epoch.Epoch), ("rate", epoch.SamplesPerSecond));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public async Task<bool> TruncateHistoryAsync(string id, int attempt, int lastEpoch, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        if (await ScalarAsync(connection, transaction, $"SELECT 1 FROM jobs WHERE {Held} FOR UPDATE", cancellationToken, ("id", id), ("attempt", attempt)) is null)
            return false;
        await ExecuteAsync(connection, transaction, "DELETE FROM job_epochs WHERE job_id = @id AND epoch > @epoch", cancellationToken, ("id", id), ("epoch", lastEpoch));
        await ExecuteAsync(connection, transaction, """
            UPDATE jobs SET epoch = @epoch,
                running_seconds = (SELECT COALESCE(SUM(seconds), 0) FROM job_epochs WHERE job_id = @id)
            WHERE id = @id
            """, cancellationToken, ("id", id), ("epoch", lastEpoch));
        await transaction.CommitAsync(cancellationToken);
        return true;
    }

    public Task<bool> CompleteAsync(string id, int attempt, int modelVersion, CancellationToken cancellationToken = default) =>
        FinishAsync(id, attempt, JobState.Succeeded, null, modelVersion, cancellationToken);

    public Task<bool> FailAsync(string id, int attempt, string error, CancellationToken cancellationToken = default) =>
        FinishAsync(id, attempt, JobState.Failed, error, null, cancellationToken);

    public Task<bool> MarkCancelledAsync(string id, int attempt, CancellationToken cancellationToken = default) =>
        FinishAsync(id, attempt, JobState.Cancelled, null, null, cancellationToken);

    public async Task<JobRecord?> RequestCancelAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // A job whose worker's lease ran out has nobody to stop it: it ends at once, like a queued one.
        await ExecuteAsync(connection, transaction, """
            UPDATE jobs SET state = 'cancelled', cancel_requested = true, finished_at = now(), worker_id = NULL, lease_expires_at = NULL
            WHERE id = @id AND (state = 'queued' OR (state = 'running' AND lease_expires_at < now()))
            """, cancellationToken, ("id", id));
        await ExecuteAsync(connection, transaction, "UPDATE jobs SET cancel_requested = true WHERE id = @id AND state = 'running'", cancellationToken, ("id", id));
        var job = (await QueryAsync(connection, transaction, $"{SelectJob} WHERE j.id = @id", cancellationToken, ("id", id))).FirstOrDefault();
        await transaction.CommitAsync(cancellationToken);
        return job;
    }

    public async Task<bool> IsCancelRequestedAsync(string id, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ScalarAsync(connection, null, "SELECT cancel_requested FROM jobs WHERE id = @id", cancellationToken, ("id", id)) is true;
    }

    public async Task<int> RequeueAbandonedAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null, """
            UPDATE jobs SET state = 'queued', worker_id = NULL, lease_expires_at = NULL
            WHERE state = 'running' AND lease_expires_at < now()
            """, cancellationToken);
    }

    public async Task<bool> HasActiveJobsForDatasetAsync(string datasetId, CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ScalarAsync(connection, null, "SELECT EXISTS (SELECT 1 FROM jobs WHERE dataset_id = @id AND state IN ('queued', 'running'))",
            cancellationToken, ("id", datasetId)) is true;
    }

    public async Task<IReadOnlyDictionary<JobState, int>> CountByStateAsync(CancellationToken cancellationToken = default)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        await using var command = Create(connection, null, "SELECT state, COUNT(*) FROM jobs GROUP BY state");
        var counts = Enum.GetValues<JobState>().ToDictionary(s => s, _ => 0);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
            counts[Parse(reader.GetString(0))] = (int)reader.GetInt64(1);
        return counts;
    }

    async Task<bool> FinishAsync(string id, int attempt, JobState state, string? error, int? version, CancellationToken cancellationToken)
    {
        await using var connection = await database.OpenAsync(cancellationToken);
        return await ExecuteAsync(connection, null, $"""
            UPDATE jobs SET state = @state, error = @error, model_version = @version, finished_at = now(), worker_id = NULL, lease_expires_at = NULL
            WHERE {Held}
            """, cancellationToken, ("id", id), ("attempt", attempt), ("state", Name(state)), ("error", error), ("version", version)) == 1;
    }

    static async Task<List<JobRecord>> QueryAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql,
        CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        await using var command = Create(connection, transaction, sql, parameters);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var jobs = new List<JobRecord>();
        while (await reader.ReadAsync(cancellationToken))
            jobs.Add(Read(reader));
        return jobs;
    }

    static JobRecord Read(NpgsqlDataReader reader)
    {
        int Int(string column) => reader.GetInt32(reader.GetOrdinal(column));
        double? NullableDouble(string column) => reader.IsDBNull(reader.GetOrdinal(column)) ? null : reader.GetDouble(reader.GetOrdinal(column));
        int version = reader.GetOrdinal("model_version");
        return new JobRecord(
            reader.GetString(reader.GetOrdinal("id")),
            StoreJson.Deserialize<JobRequest>(reader.GetString(reader.GetOrdinal("request_json"))),
            Parse(reader.GetString(reader.GetOrdinal("state"))),
            Int("epoch"),
            Int("epochs"),
            NullableDouble("samples_per_second"),
            NullableString(reader, "error"),
            reader.IsDBNull(version) ? null : reader.GetInt32(version),
            reader.GetBoolean(reader.GetOrdinal("cancel_requested")),
            Int("attempts"),
            Timestamp(reader, "created_at"),
            NullableTimestamp(reader, "started_at"),
            NullableTimestamp(reader, "finished_at"),
            reader.GetDouble(reader.GetOrdinal("running_seconds")),
            History(reader.GetString(reader.GetOrdinal("history"))));
    }

    static List<EpochRecord> History(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.EnumerateArray()
            .Select(e => new EpochRecord(e[0].GetInt32(), e[1].GetDouble(), e[2].GetDouble(), e[3].GetDouble(), e[4].GetDouble(),
                e.GetArrayLength() > 5 && e[5].ValueKind == JsonValueKind.Object ? e[5].Deserialize<ImportanceStatistics>(StoreJson.Options) : null))
            .ToList();
    }

    static string Name(JobState state) => state.ToString().ToLowerInvariant();

    static JobState Parse(string state) => Enum.Parse<JobState>(state, ignoreCase: true);
}
