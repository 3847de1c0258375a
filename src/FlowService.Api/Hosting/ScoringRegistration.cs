using FlowService.Api.Scoring;
using FlowService.Training.Registry;

namespace FlowService.Api.Hosting;

/// <summary>The scoring service (model cache, batchers), admission control and start-up warm-up of aliased models.</summary>
public static class ScoringRegistration
{
    /// <remarks>Call after the storage registration: it wraps whichever <see cref="IModelRegistry"/> that registered.</remarks>
    public static WebApplicationBuilder AddScoring(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var registry = services.LastOrDefault(d => d.ServiceType == typeof(IModelRegistry));
        if (registry is not null)
        {
            services.Remove(registry);
            services.AddSingleton(sp => new RegistryChangeNotifier(Create(sp, registry)));
            services.AddSingleton<IModelRegistry>(sp => sp.GetRequiredService<RegistryChangeNotifier>());
        }
        services.AddSingleton<ScoringService>();
        services.AddSingleton<InferenceAdmission>();
        services.AddHostedService<ModelWarmupService>();
        return builder;
    }

    static IModelRegistry Create(IServiceProvider services, ServiceDescriptor descriptor) =>
        descriptor.ImplementationInstance as IModelRegistry
        ?? (descriptor.ImplementationFactory is { } factory
            ? (IModelRegistry)factory(services)
            : (IModelRegistry)ActivatorUtilities.CreateInstance(services, descriptor.ImplementationType!));
}
