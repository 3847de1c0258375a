using System.Collections.Concurrent;

namespace FlowService.Api.Observability;

/// <summary>
/// The host's <see cref="ILoggerFactory"/>: Serilog's factory with one logger kept per category, as Microsoft's own
/// LoggerFactory keeps them. Serilog's builds a new logger (with its own event-id cache) on every CreateLogger call,
/// and ASP.NET Core builds an authentication handler, which creates its logger in its constructor, for every request:
/// with API keys that was about 1 KB and a logger's construction per request.
/// </summary>
public sealed class CategoryCachingLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    readonly ConcurrentDictionary<string, ILogger> _loggers = new(StringComparer.Ordinal);

    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, inner.CreateLogger);

    /// <summary>A provider added later reaches loggers created after it (Serilog's factory's own rule).</summary>
    public void AddProvider(ILoggerProvider provider)
    {
        inner.AddProvider(provider);
        _loggers.Clear();
    }

    /// <summary>The container disposes only this wrapper; the wrapped factory (and the logger it owns) goes with it.</summary>
    public void Dispose() => inner.Dispose();

    /// <summary>Wraps the <see cref="ILoggerFactory"/> registered last (Serilog's) in this cache.</summary>
    public static void Decorate(IServiceCollection services)
    {
        var registered = services.Last(d => d.ServiceType == typeof(ILoggerFactory));
        services.Remove(registered);
        services.AddSingleton<ILoggerFactory>(provider => new CategoryCachingLoggerFactory(registered switch
        {
            { ImplementationInstance: ILoggerFactory instance } => instance,
            { ImplementationFactory: { } factory } => (ILoggerFactory)factory(provider),
            _ => (ILoggerFactory)ActivatorUtilities.CreateInstance(provider, registered.ImplementationType!),
        }));
    }
}
