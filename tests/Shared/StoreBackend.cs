namespace FlowService.Tests.Shared;

/// <summary>The two storage modes every store and API test runs against.</summary>
public enum StoreBackend
{
    Sqlite,
    Postgres,
}
