using System.Text.Json;
using System.Text.Json.Serialization;

namespace FlowService.Api.Hosting;

/// <summary>JSON conventions (camelCase, enums as lower-case strings) and RFC 7807 problems for every error response.</summary>
public static class HttpConventions
{
    public static WebApplicationBuilder AddHttpConventions(this WebApplicationBuilder builder)
    {
        builder.Services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        builder.Services.AddProblemDetails();
        return builder;
    }

    /// <summary>Unhandled exceptions and bare status codes (404 for unknown routes, 405, ...) become problems too.</summary>
    public static WebApplication UseProblemResponses(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }
}
