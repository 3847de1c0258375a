using System.Diagnostics.Metrics;
using FlowService.Api.Observability;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Serilog;
using Serilog.Events;
using Serilog.Extensions.Logging;

namespace FlowService.Api.Tests.Observability;

/// <summary>A request whose handler throws still gets its log event (at Error, with the exception) and a 500 sample.</summary>
public sealed class RequestLoggingFailureTests
{
    [Fact]
    public async Task A_throwing_handler_is_logged_at_error_and_counted_as_500_under_its_route_template()
    {
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        using var exporter = new PrometheusExporter(meterFactory, services, NullLogger<PrometheusExporter>.Instance);
        var sink = new CapturingSink();
        using var serilog = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();
        using var loggers = new SerilogLoggerFactory(serilog);
        var middleware = new RequestLoggingMiddleware(_ => throw new InvalidOperationException("handler bug"),
            new Microsoft.Extensions.Logging.Logger<RequestLoggingMiddleware>(loggers), new HttpMetrics(meterFactory));
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Path = "/models/secret-name/versions/3";
        context.SetEndpoint(new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse("/models/{name}/versions/{version:int}"), 0, null, "test"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => middleware.InvokeAsync(context));

        var e = Assert.Single(sink.Events);
        Assert.Equal(LogEventLevel.Error, e.Level);
        Assert.Equal("handler bug", e.Exception?.Message);
        Assert.Equal("500", CapturingSink.Scalar(e, "StatusCode"));
        Assert.Equal("/models/{name}/versions/{version:int}", CapturingSink.Scalar(e, "Route"));
        var text = await exporter.CollectAsync(CancellationToken.None);
        Assert.Contains("flowservice_http_requests_total{method=\"POST\",route=\"/models/{name}/versions/{version:int}\",status=\"500\"} 1\n", text);
        Assert.DoesNotContain("secret-name", text);
    }
}
