namespace FlowService.Api.Hosting;

/// <summary>Attaches <see cref="ApiExample"/> metadata to endpoints.</summary>
public static class ApiExampleExtensions
{
    public static RouteHandlerBuilder WithRequestExample(this RouteHandlerBuilder builder, string contentType, string body) =>
        builder.WithMetadata(new ApiExample(contentType, null, body));

    /// <summary>One of several named request examples of the same content type.</summary>
    public static RouteHandlerBuilder WithNamedRequestExample(this RouteHandlerBuilder builder, string contentType, string name, string body) =>
        builder.WithMetadata(new ApiExample(contentType, null, body, name));

    public static RouteHandlerBuilder WithResponseExample(this RouteHandlerBuilder builder, int statusCode, string body, string contentType = "application/json") =>
        builder.WithMetadata(new ApiExample(contentType, statusCode, body));
}
