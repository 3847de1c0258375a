using FlowService.Api.Observability;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FlowService.Api.Tests.Observability;

public sealed class CategoryCachingLoggerFactoryTests
{
    [Fact]
    public async Task The_hosts_logger_factory_builds_one_logger_per_category()
    {
        // Authentication handlers are built per request and create their logger in the constructor: Serilog's factory
        // built a new logger (and its event-id cache) each time.
        await using var factory = new FlowServiceFactory(worker: false);
        factory.CreateClient();
        var loggers = factory.Services.GetRequiredService<ILoggerFactory>();
        Assert.IsType<CategoryCachingLoggerFactory>(loggers);
        Assert.Same(loggers.CreateLogger("FlowService.Api.Security.ApiKeyAuthenticationHandler"), loggers.CreateLogger("FlowService.Api.Security.ApiKeyAuthenticationHandler"));
        Assert.NotSame(loggers.CreateLogger("a"), loggers.CreateLogger("b"));
    }
}
