using FlowService.Training.Datasets;
using FlowService.Training.Jobs;
using FlowService.Training.Registry;
using FlowService.Training.Storage;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Hosting;

/// <summary>Options binding and the embedded storage (SQLite file + data folder) behind the store interfaces.</summary>
public static class StorageRegistration
{
    public static WebApplicationBuilder AddFlowServiceOptions(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<FlowServiceOptions>().BindConfiguration(FlowServiceOptions.Section)
            .Validate(o => FlowServiceOptions.Roles.Contains(o.Role, StringComparer.OrdinalIgnoreCase), "FlowService:Role must be all, api or worker.")
            .ValidateOnStart();
        builder.Services.AddOptions<DatasetLimits>().BindConfiguration(DatasetLimits.Section);
        builder.Services.AddOptions<WorkerOptions>().BindConfiguration(WorkerOptions.Section);
        builder.Services.AddOptions<Scoring.ScoringOptions>().BindConfiguration(Scoring.ScoringOptions.Section);
        return builder;
    }

    /// <summary>The embedded default. A PostgreSQL registration (ConnectionStrings:Postgres) would replace these three stores.</summary>
    public static WebApplicationBuilder AddEmbeddedStorage(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton(sp => new DataFolder(sp.GetRequiredService<IOptions<FlowServiceOptions>>().Value.DataPath));
        builder.Services.AddSingleton(sp => new SqliteDatabase(sp.GetRequiredService<DataFolder>().DatabasePath));
        builder.Services.AddSingleton<IStorageProbe>(sp => sp.GetRequiredService<SqliteDatabase>());
        builder.Services.AddSingleton<IDatasetStore, SqliteDatasetStore>();
        builder.Services.AddSingleton<IJobStore, SqliteJobStore>();
        builder.Services.AddSingleton<IModelRegistry, SqliteModelRegistry>();
        return builder;
    }
}
