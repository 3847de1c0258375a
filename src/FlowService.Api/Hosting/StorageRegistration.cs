using FlowService.Training.Datasets;
using FlowService.Training.Jobs;
using FlowService.Training.Keys;
using FlowService.Training.Registry;
using FlowService.Training.Storage;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Hosting;

/// <summary>
/// Options binding and the storage behind the store interfaces: PostgreSQL when
/// <c>ConnectionStrings:Postgres</c> is set (scale-out: every replica shares the database and the data
/// folder's volume), else the embedded SQLite file in the data folder.
/// </summary>
public static class StorageRegistration
{
    public const string PostgresConnectionName = "Postgres";

    public static WebApplicationBuilder AddFlowServiceOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<FlowServiceOptions>().BindConfiguration(FlowServiceOptions.Section)
            .Validate(o => FlowServiceOptions.Roles.Contains(o.Role, StringComparer.OrdinalIgnoreCase), "FlowService:Role must be all, api or worker.")
            .ValidateOnStart();
        // Out-of-range settings stop the start with the setting's name instead of being clamped where they are used.
        builder.Services.AddOptions<DatasetLimits>().BindConfiguration(DatasetLimits.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<Scoring.ScoringOptions>().BindConfiguration(Scoring.ScoringOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return builder;
    }

    public static WebApplicationBuilder AddStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(sp => new DataFolder(sp.GetRequiredService<IOptions<FlowServiceOptions>>().Value.DataPath));
        builder.Services.AddExceptionHandler<StorageUnavailableHandler>();
        string? postgres = builder.Configuration.GetConnectionString(PostgresConnectionName);
        return string.IsNullOrWhiteSpace(postgres) ? builder.AddEmbeddedStorage() : builder.AddPostgresStorage(postgres);
    }

    static WebApplicationBuilder AddEmbeddedStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(sp => new SqliteDatabase(sp.GetRequiredService<DataFolder>().DatabasePath));
        builder.Services.AddSingleton<IStorageProbe>(sp => sp.GetRequiredService<SqliteDatabase>());
        builder.Services.AddSingleton<IDatasetStore, SqliteDatasetStore>();
        builder.Services.AddSingleton<IJobStore, SqliteJobStore>();
        builder.Services.AddSingleton<IModelRegistry, SqliteModelRegistry>();
        builder.Services.AddSingleton<IApiKeyStore, SqliteApiKeyStore>();
        return builder;
    }

    static WebApplicationBuilder AddPostgresStorage(this WebApplicationBuilder builder, string connectionString)
    {
        builder.Services.AddSingleton(_ => new PostgresDatabase(connectionString));
        builder.Services.AddSingleton<IStorageProbe>(sp => sp.GetRequiredService<PostgresDatabase>());
        builder.Services.AddSingleton<IDatasetStore, PostgresDatasetStore>();
        builder.Services.AddSingleton<IJobStore, PostgresJobStore>();
        builder.Services.AddSingleton<IModelRegistry, PostgresModelRegistry>();
        builder.Services.AddSingleton<IApiKeyStore, PostgresApiKeyStore>();
        // Other replicas change the registry: unless configured, scoring asks the database on every request.
        builder.Services.PostConfigure<Scoring.ScoringOptions>(o => o.ResolutionCacheMilliseconds ??= 0);
        builder.Services.AddHostedService<PostgresMigrationAtStart>();
        return builder;
    }
}
