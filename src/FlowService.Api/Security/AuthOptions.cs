namespace FlowService.Api.Security;

/// <summary>
/// Who may call the API, bound from <c>FlowService:Auth</c> (environment <c>FlowService__Auth__BootstrapAdminKey</c>, ...).
/// </summary>
public sealed class AuthOptions
{
    public const string Section = "FlowService:Auth";

    /// <summary>
    /// <c>auto</c> (the default): keys or tokens required, except in Development with neither a bootstrap key nor JWT
    /// configured, which runs open with a warning; outside Development that combination refuses to start.
    /// <c>required</c>: keys or tokens always required (keys already in the store suffice). <c>none</c>: open to anyone
    /// who reaches the port, every caller an admin (a network boundary must do the job instead).
    /// </summary>
    public string Mode { get; set; } = "auto";

    /// <summary>An admin key ensured at every start (at least 32 characters, no '.'); changing it replaces the old one.</summary>
    public string? BootstrapAdminKey { get; set; }

    /// <summary>True: GET /metrics needs a key (any role); false (default): Prometheus scrapes it without one.</summary>
    public bool MetricsRequireKey { get; set; }

    /// <summary>
    /// How long a verified key is trusted before the store is asked again (null: 1000 ms; 0: every request asks the
    /// store). A revocation does not wait for it: the replica that revokes drops the key at once, and with PostgreSQL
    /// every other replica drops it when the revocation's notification arrives (<see cref="KeyRevocationListener"/>).
    /// </summary>
    public int? KeyCacheMilliseconds { get; set; }

    /// <summary>Last-used times are kept in memory and written to the store in one batch this often (and at shutdown).</summary>
    public int LastUsedFlushSeconds { get; set; } = 30;

    public JwtOptions Jwt { get; set; } = new();

    public static readonly string[] Modes = ["auto", "required", "none"];
}
