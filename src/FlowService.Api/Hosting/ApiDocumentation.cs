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
        });
        return builder;
    }

    public static WebApplication UseApiDocumentation(this WebApplication app)
    {
        app.UseSwagger();
        app.UseSwaggerUI(options => options.DocumentTitle = "FlowService API");
        return app;
    }
}
