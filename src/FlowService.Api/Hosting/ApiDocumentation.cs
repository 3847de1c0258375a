using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace FlowService.Api.Hosting;

/// <summary>The OpenAPI document (Swashbuckle) and Swagger UI at /swagger.</summary>
public static class ApiDocumentation
{
    public static WebApplicationBuilder AddApiDocumentation(this WebApplicationBuilder builder)
    {
        builder.Services.AddEndpointsApiExplorer();
        builder.Services.AddSwaggerGen(options =>
        {
            options.SwaggerDoc("v1", new Microsoft.OpenApi.OpenApiInfo
            {
                Title = "FlowService",
                Version = "v1",
                Description = "Train normalizing flows on uploaded datasets; serve exact log p(x), latent codes, inverses and samples.",
            });
            options.OperationFilter<ApiExamplesOperationFilter>();
            // The Authorize button: an API key (or an OIDC token) sent as Authorization: Bearer.
            options.AddSecurityDefinition("Bearer", new Microsoft.OpenApi.OpenApiSecurityScheme
            {
                Type = Microsoft.OpenApi.SecuritySchemeType.Http,
                Scheme = "bearer",
                Description = "An API key from POST /keys (or FlowService:Auth:BootstrapAdminKey), or an OIDC access token where configured.",
            });
            options.AddSecurityRequirement(document => new Microsoft.OpenApi.OpenApiSecurityRequirement
            {
                [new Microsoft.OpenApi.OpenApiSecuritySchemeReference("Bearer", document)] = [],
            });
        });
        return builder;
    }

    public static WebApplication UseApiDocumentation(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(options => options.DocumentTitle = "FlowService API");
        // A new user's first question is where to click: say it once the listen addresses are known.
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
            foreach (var address in addresses)
                app.Logger.LogInformation("Swagger UI: {SwaggerUrl}", address.TrimEnd('/') + "/swagger");
        });
        return app;
    }
}
