namespace FlowService.Api.Hosting;

/// <summary>Attaches <see cref="ApiExample"/> metadata to endpoints.</summary>
public static class ApiExampleExtensions
{
    public static RouteHandlerBuilder WithRequestExample(this RouteHandlerBuilder builder, string contentType, string body) =>
        builder.WithMetadata(new ApiExample(contentType, null, body));

    public static RouteHandlerBuilder WithResponseExample(this RouteHandlerBuilder builder, int statusCode, string body, string contentType = "application/json") =>
        builder.WithMetadata(new ApiExample(contentType, statusCode, body));
}
