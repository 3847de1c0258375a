var builder = WebApplication.CreateBuilder(args);

var app = builder.Build();

app.MapGet("/health/live", () => Results.Ok(new { status = "live" }));

app.Run();

/// <summary>Entry point; public so that WebApplicationFactory&lt;Program&gt; can host the service in tests.</summary>
public partial class Program;
