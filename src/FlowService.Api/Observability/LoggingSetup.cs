using Serilog;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Compact;
using Serilog.Formatting.Display;

namespace FlowService.Api.Observability;

/// <summary>
/// Serilog through Serilog.AspNetCore: compact JSON (CLEF, one object per line with the rendered message, for log
/// shippers) on stdout, readable text in Development; levels and extra sinks from the "Serilog" configuration
/// section (ReadFrom.Configuration) on top of quiet defaults for the framework's own chatter; any
/// <see cref="Serilog.Core.ILogEventSink"/> registered in DI also receives every event (tests capture them so).
/// Trace and span ids of the current <see cref="System.Diagnostics.Activity"/> are on every event (@tr, @sp).
/// </summary>
public static class LoggingSetup
{
    public const string TextTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}";

    public static WebApplicationBuilder AddSerilogLogging(this WebApplicationBuilder builder)
    {
        var development = builder.Environment.IsDevelopment();
        builder.Services.AddSerilog((services, logger) => logger
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Extensions.Http", LogEventLevel.Warning)
            .ReadFrom.Configuration(builder.Configuration)
            .ReadFrom.Services(services)
            .Enrich.FromLogContext()
            .Enrich.WithProperty("Application", "FlowService")
            .WriteTo.Console(CreateFormatter(development)),
            // Each host keeps its own logger (registered in DI) instead of replacing the static Log.Logger, so two hosts
            // in one process (tests) never write to each other's sinks.
            preserveStaticLogger: true);
        CategoryCachingLoggerFactory.Decorate(builder.Services);
        return builder;
    }

    /// <summary>CLEF with the rendered message (@m, @i) unless in Development.</summary>
    public static ITextFormatter CreateFormatter(bool development) => development
        ? new MessageTemplateTextFormatter(TextTemplate, System.Globalization.CultureInfo.InvariantCulture)
        : new RenderedCompactJsonFormatter();
}
