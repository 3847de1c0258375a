namespace FlowService.Api.Hosting;

/// <summary>
/// Endpoint metadata: an example body shown in Swagger UI. <see cref="StatusCode"/> null means the
/// request body of <see cref="ContentType"/>; otherwise the response with that status. A request example with a
/// <see cref="Name"/> is one of several named examples of that body (Swagger UI offers a choice).
/// </summary>
public sealed record ApiExample(string ContentType, int? StatusCode, string Body, string? Name = null);
