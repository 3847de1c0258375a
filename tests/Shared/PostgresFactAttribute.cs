namespace FlowService.Tests.Shared;

/// <summary>A fact about PostgreSQL itself; skipped, with the reason shown, when its binaries are not installed.</summary>
public sealed class PostgresFactAttribute : FactAttribute
{
    public PostgresFactAttribute()
    {
        if (PostgresCluster.UnavailableReason is { } reason)
            Skip = reason;
    }
}
