namespace FlowService.Training.Storage;

/// <summary>
/// The scale-out schema as an ordered list of migrations; index i moves a database from version i to
/// i + 1 (recorded in <c>schema_migrations</c>). Append new migrations; never edit an applied one.
/// </summary>
public static class PostgresSchema
{
    /// <summary>The advisory lock key that serializes migrations of replicas starting at the same time ("flowsvc1").</summary>
    public const long MigrationLockKey = 0x666C6F7773766331;

    public static readonly IReadOnlyList<string> Migrations =
    [
        """
        CREATE TABLE datasets (
            id text PRIMARY KEY,
            name text NOT NULL,
            format text NOT NULL,
            row_count integer NOT NULL,
            columns_json jsonb NOT NULL,
            statistics_json jsonb NOT NULL,
            sha256 text NOT NULL,
            size_bytes bigint NOT NULL,
            created_at timestamptz NOT NULL
        );
        CREATE TABLE jobs (
            id text PRIMARY KEY,
            model text NOT NULL,
            dataset_id text NOT NULL,
            request_json jsonb NOT NULL,
            state text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
            epoch integer NOT NULL DEFAULT 0,
            epochs integer NOT NULL,
            samples_per_second double precision,
            error text,
            model_version integer,
            cancel_requested boolean NOT NULL DEFAULT false,
            worker_id text,
            attempts integer NOT NULL DEFAULT 0,
            lease_expires_at timestamptz,
            created_at timestamptz NOT NULL,
            started_at timestamptz,
            finished_at timestamptz,
            running_seconds double precision NOT NULL DEFAULT 0
        );
        CREATE INDEX jobs_queue ON jobs (created_at, id) WHERE state IN ('queued', 'running');
        CREATE INDEX jobs_state_created ON jobs (state, created_at);
        CREATE INDEX jobs_dataset_active ON jobs (dataset_id) WHERE state IN ('queued', 'running');
        CREATE TABLE job_epochs (
            job_id text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            epoch integer NOT NULL,
            train_nll double precision NOT NULL,
            validation_nll double precision NOT NULL,
            samples_per_second double precision NOT NULL,
            seconds double precision NOT NULL,
            PRIMARY KEY (job_id, epoch)
        );
        CREATE TABLE models (
            name text PRIMARY KEY,
            next_version integer NOT NULL,
            created_at timestamptz NOT NULL
        );
        CREATE TABLE model_versions (
            model text NOT NULL REFERENCES models (name),
            version integer NOT NULL,
            job_id text NOT NULL UNIQUE,
            dataset_id text NOT NULL,
            dataset_sha256 text NOT NULL,
            columns_json jsonb NOT NULL,
            context_columns_json jsonb NOT NULL,
            flow_json jsonb NOT NULL,
            training_json jsonb NOT NULL,
            metrics_json jsonb NOT NULL,
            calibration_json jsonb NOT NULL,
            checkpoint_folder text NOT NULL,
            checkpoint_sha256 text NOT NULL,
            created_at timestamptz NOT NULL,
            PRIMARY KEY (model, version)
        );
        CREATE TABLE model_aliases (
            model text NOT NULL,
            alias text NOT NULL,
            version integer NOT NULL,
            updated_at timestamptz NOT NULL,
            PRIMARY KEY (model, alias),
            FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
        );
        """,
        // Reverse-KL fits: per-epoch importance statistics, and the target a version was fitted to.
        """
        ALTER TABLE job_epochs ADD COLUMN importance_json jsonb;
        ALTER TABLE model_versions ADD COLUMN target_json jsonb;
        """,
        // Image datasets (IDX, or .npy of N-D images) record their shape and value range.
        "ALTER TABLE datasets ADD COLUMN image_json jsonb",
        // API keys (stored as SHA-256 hashes).
        """
        CREATE TABLE api_keys (
            id text PRIMARY KEY,
            name text NOT NULL,
            role text NOT NULL CHECK (role IN ('reader', 'scorer', 'trainer', 'admin')),
            hash text NOT NULL UNIQUE,
            created_at timestamptz NOT NULL,
            expires_at timestamptz,
            last_used_at timestamptz
        );
        """,
    ];
}
