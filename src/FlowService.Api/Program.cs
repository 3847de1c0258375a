using FlowService.Api.Observability;

var builder = WebApplication.CreateBuilder(args);
builder.AddObservability();

var app = builder.Build();
app.UseRequestLogging();

app.MapGet("/health/live", () => Results.Ok(new { status = "live" }));
app.MapMetrics();

app.Run();

/// <summary>Entry point; public so that WebApplicationFactory&lt;Program&gt; can host the service in tests.</summary>
public partial class Program;
