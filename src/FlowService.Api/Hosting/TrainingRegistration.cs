using FlowService.Model.Compute;
using FlowService.Training.Engine;
using FlowService.Training.Jobs;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Hosting;

/// <summary>
/// The compute backend (<see cref="ComputeOptions"/>), the flow engines that train and load on it, and the training
/// worker. The worker runs in this process when the role is <c>all</c> or <c>worker</c> and FlowService:Worker:Enabled
/// is true. One backend serves training and scoring alike, so a model trained here scores on the same device.
/// </summary>
public static class TrainingRegistration
{
    public static WebApplicationBuilder AddTrainingWorker(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ComputeOptions>().BindConfiguration(ComputeOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(sp => ComputeBackendFactory.Create(
            sp.GetRequiredService<IOptions<ComputeOptions>>(), sp.GetRequiredService<ILoggerFactory>().CreateLogger("FlowService.Compute")));
        builder.Services.AddHostedService<ComputeBackendAtStart>();
        builder.Services.AddSingleton<IFlowEngine>(sp => new NormalizingFlowEngine(sp.GetRequiredService<IBackend>()));
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
