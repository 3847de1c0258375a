namespace FlowService.Api.Hosting;

/// <summary>
/// The service's top-level settings, bound from section <c>FlowService</c> (environment:
/// <c>FlowService__DataPath</c>, <c>FlowService__Role</c>).
/// </summary>
public sealed class FlowServiceOptions
{
    public const string Section = "FlowService";

    /// <summary>The data folder: SQLite database, datasets, job state, checkpoints. Relative paths are from the working directory.</summary>
    public string DataPath { get; set; } = "data";

    /// <summary><c>all</c> (API and worker, the default), <c>api</c> (HTTP only) or <c>worker</c> (trains; serves only health).</summary>
    public string Role { get; set; } = "all";

    public bool ServesApi => !Role.Equals("worker", StringComparison.OrdinalIgnoreCase);

    public bool RunsWorker => !Role.Equals("api", StringComparison.OrdinalIgnoreCase);

    public static readonly string[] Roles = ["all", "api", "worker"];
}
