using FlowService.Training.Engine;
using FlowService.Training.Jobs;

namespace FlowService.Api.Hosting;

/// <summary>
/// The flow engines and the training worker. The worker runs in this process when the role is
/// <c>all</c> or <c>worker</c> and FlowService:Worker:Enabled is true.
/// </summary>
public static class TrainingRegistration
{
    public static WebApplicationBuilder AddTrainingWorker(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IFlowEngine, NormalizingFlowEngine>();
        builder.Services.AddSingleton<FlowEngineCatalog>();
        builder.Services.AddSingleton<IJobRunner, FlowJobRunner>();

        var settings = new FlowServiceOptions();
        builder.Configuration.GetSection(FlowServiceOptions.Section).Bind(settings);
        var worker = new WorkerOptions();
        builder.Configuration.GetSection(WorkerOptions.Section).Bind(worker);
        bool runs = settings.RunsWorker && worker.Enabled;
        builder.Services.AddSingleton(new WorkerStatus { Expected = runs });
        if (runs)
            builder.Services.AddHostedService<TrainingWorker>();
        return builder;
    }
}
