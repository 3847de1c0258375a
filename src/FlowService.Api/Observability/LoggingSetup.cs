using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;
using Serilog.Formatting.Display;
using Serilog.Formatting.Json;

namespace FlowService.Api.Observability;

/// <summary>
/// Builds the Serilog pipeline: JSON lines on stdout in production (one object per event, properties kept
/// structured, for log shippers), readable text in Development, levels from the "Serilog" configuration section
/// (Serilog:MinimumLevel:Default and Serilog:MinimumLevel:Override:&lt;category&gt;) on top of quiet defaults for
/// the framework's own chatter, plus any <see cref="ILogEventSink"/> registered in DI (tests capture events so).
/// </summary>
public static class LoggingSetup
{
    public const string TextTemplate = "[{Timestamp:HH:mm:ss.fff} {Level:u3}] {SourceContext}: {Message:lj}{NewLine}{Exception}";

    public static Logger CreateLogger(IConfiguration configuration, IHostEnvironment environment, IEnumerable<ILogEventSink> extraSinks)
    {
        var config = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft.AspNetCore", LogEventLevel.Warning)
            .MinimumLevel.Override("Microsoft.Extensions.Http", LogEventLevel.Warning)
            .ReadFrom.Configuration(configuration)
            .Enrich.FromLogContext()
            .Enrich.WithProperty("Application", "FlowService")
            .WriteTo.Console(CreateFormatter(environment.IsDevelopment()));
        foreach (var sink in extraSinks) config = config.WriteTo.Sink(sink);
        return config.CreateLogger();
    }

    /// <summary>JSON lines (Serilog's own JsonFormatter, with the rendered message) unless in Development.</summary>
    public static ITextFormatter CreateFormatter(bool development) => development
        ? new MessageTemplateTextFormatter(TextTemplate, System.Globalization.CultureInfo.InvariantCulture)
        : new JsonFormatter(renderMessage: true, formatProvider: System.Globalization.CultureInfo.InvariantCulture);
}
