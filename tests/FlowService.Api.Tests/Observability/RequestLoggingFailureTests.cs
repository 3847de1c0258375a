using FlowService.Api.Observability;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Serilog;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Serilog.Events;
using Serilog.Extensions.Hosting;

namespace FlowService.Api.Tests.Observability;

/// <summary>A request whose handler throws still gets its completion event, at Error, with the exception and route template.</summary>
public sealed class RequestLoggingFailureTests
{
    [Fact]
    public async Task A_throwing_handler_is_logged_at_error_under_its_route_template()
    {
        var sink = new CapturingSink();
        using var serilog = new LoggerConfiguration().MinimumLevel.Verbose().WriteTo.Sink(sink).CreateLogger();
        using var services = new ServiceCollection().AddOptions().AddSingleton(new DiagnosticContext(serilog)).BuildServiceProvider();
        var app = new ApplicationBuilder(services);
        app.UseSerilogRequestLogging(options =>
        {
            RequestLogging.Configure(options);
            options.Logger = serilog;
        });
        app.Run(_ => throw new InvalidOperationException("handler bug"));
        var pipeline = app.Build();
        var context = new DefaultHttpContext();
        context.Request.Method = "POST";
        context.Request.Path = "/models/secret-name/versions/3";
        context.Request.QueryString = new QueryString("?token=hidden");
        context.SetEndpoint(new RouteEndpoint(_ => Task.CompletedTask, RoutePatternFactory.Parse("/models/{name}/versions/{version:int}"), 0, null, "test"));

        await Assert.ThrowsAsync<InvalidOperationException>(() => pipeline(context));

        var e = Assert.Single(sink.Events);
        Assert.Equal(LogEventLevel.Error, e.Level);
        Assert.Equal("handler bug", e.Exception?.Message);
        Assert.Equal("500", CapturingSink.Scalar(e, "StatusCode"));
        Assert.Equal("/models/{name}/versions/{version:int}", CapturingSink.Scalar(e, "Route"));
        Assert.DoesNotContain("hidden", e.RenderMessage());
    }
}
