using System.Text.Json;
using FlowService.Api.Observability;
using Serilog;
using Serilog.Core;
using Serilog.Events;
using Serilog.Formatting;

namespace FlowService.Api.Tests.Observability;

/// <summary>Production writes compact JSON (CLEF), one object per line with structured properties; Development writes readable text.</summary>
public sealed class LogFormatTests
{
    private sealed class FormattingSink(ITextFormatter formatter, TextWriter output) : ILogEventSink
    {
        public void Emit(LogEvent logEvent) => formatter.Format(logEvent, output);
    }

    private static string Write(bool development)
    {
        var output = new StringWriter();
        using (var logger = new LoggerConfiguration().WriteTo.Sink(new FormattingSink(LoggingSetup.CreateFormatter(development), output)).CreateLogger())
        {
            using var activity = new System.Diagnostics.Activity("test").Start();
            logger.Information("HTTP {RequestMethod} {Route} responded {StatusCode} in {Elapsed:0.000} ms", "POST", "/models/{name}/score", 200, 1.5);
            logger.Error(new InvalidOperationException("boom\nsecond line"), "Training job {JobId} ({ModelName}) failed", "j1", "line \"1\"");
        }
        return output.ToString();
    }

    [Fact]
    public void Production_format_is_clef_one_json_object_per_line_with_structured_properties_and_trace_ids()
    {
        var lines = Write(development: false).Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(2, lines.Length);
        using var request = JsonDocument.Parse(lines[0]);
        var r = request.RootElement;
        Assert.False(r.TryGetProperty("@l", out _)); // CLEF omits the level for Information
        Assert.True(DateTimeOffset.TryParse(r.GetProperty("@t").GetString(), out _));
        Assert.Equal("/models/{name}/score", r.GetProperty("Route").GetString());
        Assert.Equal(200, r.GetProperty("StatusCode").GetInt32());
        Assert.Contains("responded 200 in 1.500 ms", r.GetProperty("@m").GetString());
        Assert.Matches("^[0-9a-f]{32}$", r.GetProperty("@tr").GetString());
        Assert.Matches("^[0-9a-f]{16}$", r.GetProperty("@sp").GetString());
        using var failure = JsonDocument.Parse(lines[1]);
        Assert.Equal("Error", failure.RootElement.GetProperty("@l").GetString());
        Assert.Equal("line \"1\"", failure.RootElement.GetProperty("ModelName").GetString());
        Assert.Contains("boom\nsecond line", failure.RootElement.GetProperty("@x").GetString());
    }

    [Fact]
    public void Development_format_is_readable_text()
    {
        var text = Write(development: true);

        Assert.Contains("INF] : HTTP POST /models/{name}/score responded 200 in 1.500 ms", text);
        Assert.ThrowsAny<JsonException>(() => JsonDocument.Parse(text.Split('\n')[0]));
    }
}
