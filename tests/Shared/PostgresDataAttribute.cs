using System.Reflection;
using Xunit.Sdk;

namespace FlowService.Tests.Shared;

/// <summary>
/// Adds the <see cref="StoreBackend.Postgres"/> row to a backend theory (beside
/// <c>[InlineData(StoreBackend.Sqlite)]</c>); the row is skipped, with the reason shown, when the
/// PostgreSQL binaries are not installed. Extra arguments follow the backend.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = true)]
public sealed class PostgresDataAttribute : DataAttribute
{
    readonly object?[] _rest;

    public PostgresDataAttribute(params object?[] rest)
    {
        _rest = rest;
        if (PostgresCluster.UnavailableReason is { } reason)
            Skip = reason;
    }

    public override IEnumerable<object?[]> GetData(MethodInfo testMethod) => [[StoreBackend.Postgres, .. _rest]];
}
