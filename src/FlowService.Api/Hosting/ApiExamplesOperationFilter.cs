using System.Text.Json.Nodes;
using Microsoft.OpenApi;
using Swashbuckle.AspNetCore.SwaggerGen;

namespace FlowService.Api.Hosting;

/// <summary>Copies <see cref="ApiExample"/> metadata into the OpenAPI document, so Swagger UI shows a filled-in body for every endpoint.</summary>
public sealed class ApiExamplesOperationFilter : IOperationFilter
{
    public void Apply(OpenApiOperation operation, OperationFilterContext context)
    {
        foreach (var example in context.ApiDescription.ActionDescriptor.EndpointMetadata.OfType<ApiExample>())
        {
            JsonNode node = example.ContentType.Contains("json") ? JsonNode.Parse(example.Body)! : JsonValue.Create(example.Body);
            if (example.StatusCode is null)
            {
                if (operation.RequestBody?.Content is { } content)
                {
                    if (!content.TryGetValue(example.ContentType, out var media) || media is not OpenApiMediaType requestMedia)
                        content[example.ContentType] = requestMedia = new OpenApiMediaType();
                    if (example.Name is null)
                        requestMedia.Example = node;
                    else
                    {
                        requestMedia.Examples ??= new Dictionary<string, IOpenApiExample>();
                        requestMedia.Examples[example.Name] = new OpenApiExample { Summary = example.Name, Value = node };
                    }
                }
                continue;
            }
            operation.Responses ??= new OpenApiResponses();
            string key = example.StatusCode.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!operation.Responses.TryGetValue(key, out var response) || response is not OpenApiResponse concrete)
                operation.Responses[key] = concrete = new OpenApiResponse { Description = "Example" };
            concrete.Content ??= new Dictionary<string, IOpenApiMediaType>();
            if (!concrete.Content.TryGetValue(example.ContentType, out var existing) || existing is not OpenApiMediaType responseMedia)
                concrete.Content[example.ContentType] = responseMedia = new OpenApiMediaType();
            responseMedia.Example = node;
        }
    }
}
