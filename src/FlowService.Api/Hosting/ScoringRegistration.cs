using FlowService.Api.Scoring;

namespace FlowService.Api.Hosting;

/// <summary>The scoring service and its model cache.</summary>
public static class ScoringRegistration
{
    public static WebApplicationBuilder AddScoring(this WebApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ScoringService>();
        return builder;
    }
}
