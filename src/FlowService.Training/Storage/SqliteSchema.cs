namespace FlowService.Training.Storage;

/// <summary>
/// The embedded schema as an ordered list of migrations; index i moves a database from version i to
/// i + 1. Append new migrations; never edit an applied one.
/// </summary>
public static class SqliteSchema
{
    public static readonly IReadOnlyList<string> Migrations =
    [
        """
        CREATE TABLE datasets (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            format TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            columns_json TEXT NOT NULL,
            statistics_json TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size_bytes INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            model TEXT NOT NULL,
            dataset_id TEXT NOT NULL,
            request_json TEXT NOT NULL,
            state TEXT NOT NULL,
            epoch INTEGER NOT NULL DEFAULT 0,
            epochs INTEGER NOT NULL,
            samples_per_second REAL,
            error TEXT,
            model_version INTEGER,
            cancel_requested INTEGER NOT NULL DEFAULT 0,
            worker_id TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            running_seconds REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX jobs_state_created ON jobs (state, created_at);
        CREATE TABLE job_epochs (
            job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
            epoch INTEGER NOT NULL,
            train_nll REAL NOT NULL,
            validation_nll REAL NOT NULL,
            samples_per_second REAL NOT NULL,
            seconds REAL NOT NULL,
            PRIMARY KEY (job_id, epoch)
        );
        CREATE TABLE models (
            name TEXT PRIMARY KEY,
            next_version INTEGER NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE model_versions (
            model TEXT NOT NULL REFERENCES models (name),
            version INTEGER NOT NULL,
            job_id TEXT NOT NULL,
            dataset_id TEXT NOT NULL,
            dataset_sha256 TEXT NOT NULL,
            columns_json TEXT NOT NULL,
            context_columns_json TEXT NOT NULL,
            flow_json TEXT NOT NULL,
            training_json TEXT NOT NULL,
            metrics_json TEXT NOT NULL,
            calibration_json TEXT NOT NULL,
            checkpoint_folder TEXT NOT NULL,
            checkpoint_sha256 TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (model, version)
        );
        CREATE UNIQUE INDEX model_versions_job ON model_versions (job_id);
        CREATE TABLE model_aliases (
            model TEXT NOT NULL,
            alias TEXT NOT NULL,
            version INTEGER NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (model, alias),
            FOREIGN KEY (model, version) REFERENCES model_versions (model, version)
        )
        """,
        // Reverse-KL fits: per-epoch importance statistics, and the target a version was fitted to.
        """
        ALTER TABLE job_epochs ADD COLUMN importance_json TEXT;
        ALTER TABLE model_versions ADD COLUMN target_json TEXT
        """,
        // Image datasets (IDX, or .npy of N-D images) record their shape and value range.
        "ALTER TABLE datasets ADD COLUMN image_json TEXT",
        // API keys (stored as SHA-256 hashes).
        """
        CREATE TABLE api_keys (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            role TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            expires_at TEXT,
            last_used_at TEXT
        )
        """,
    ];
}
