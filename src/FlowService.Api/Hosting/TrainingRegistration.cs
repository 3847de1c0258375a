using FlowService.Training.Jobs;

namespace FlowService.Api.Hosting;

/// <summary>The training worker: runs in this process when the role is <c>all</c> or <c>worker</c> and FlowService:Worker:Enabled is true.</summary>
public static class TrainingRegistration
{
    public static WebApplicationBuilder AddTrainingWorker(this WebApplicationBuilder builder)
    {
        var settings = new FlowServiceOptions();
        builder.Configuration.GetSection(FlowServiceOptions.Section).Bind(settings);
        var worker = new WorkerOptions();
        builder.Configuration.GetSection(WorkerOptions.Section).Bind(worker);
        bool runs = settings.RunsWorker && worker.Enabled;
        builder.Services.AddSingleton(new WorkerStatus { Expected = runs });
        return builder;
    }
}
