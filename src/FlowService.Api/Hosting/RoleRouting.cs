using Microsoft.Extensions.Options;

namespace FlowService.Api.Hosting;

/// <summary>
/// What the process answers over HTTP for its <c>FlowService:Role</c>: every role serves /health and
/// /metrics (probes and scraping); only <c>all</c> and <c>api</c> serve the datasets, jobs, models and
/// inference endpoints, so a worker pod behind no Service takes no user traffic by mistake.
/// </summary>
public static class RoleRouting
{
    public static bool ServesApi(this WebApplication app) =>
        app.Services.GetRequiredService<IOptions<FlowServiceOptions>>().Value.ServesApi;
}
