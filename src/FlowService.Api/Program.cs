using FlowService.Api.Endpoints;
using FlowService.Api.Health;
using FlowService.Api.Hosting;
using FlowService.Api.Observability;

var builder = WebApplication.CreateBuilder(args);
builder.AddObservability();

builder.AddFlowServiceOptions();
builder.AddHttpConventions();
builder.AddStorage();
builder.AddSecurity();
builder.AddTrainingWorker();
builder.AddScoring();
builder.AddHealth();
builder.AddApiDocumentation();

var app = builder.Build();
app.UseObservability();

app.UseProblemResponses();
app.UseSecurity();
app.UseApiDocumentation();

app.MapHealth();
app.MapMetrics().ProtectMetrics(app);
if (app.ServesApi())
{
    app.MapDatasetsApi();
    app.MapJobsApi();
    app.MapModelsApi();
    app.MapInferenceApi();
    app.MapKeysApi();
}

app.Run();

/// <summary>Entry point; public so that WebApplicationFactory&lt;Program&gt; can host the service in tests.</summary>
public partial class Program;
