using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace FlowService.Api.Tests.Security;

/// <summary>A service with authentication on (a bootstrap admin key), and clients that present keys.</summary>
public static class AuthFixture
{
    public const string AdminKey = "test-bootstrap-admin-key-0123456789abcdef";

    public static FlowServiceFactory Create(StoreBackend backend = StoreBackend.Sqlite, Dictionary<string, string?>? settings = null,
        string? postgres = null, string? dataPath = null, string adminKey = AdminKey)
    {
        var all = new Dictionary<string, string?> { ["FlowService:Auth:BootstrapAdminKey"] = adminKey };
        foreach (var (key, value) in settings ?? [])
            all[key] = value;
        return new FlowServiceFactory(backend, worker: false, settings: all, postgres: postgres, dataPath: dataPath);
    }

    public static HttpClient Client(this FlowServiceFactory factory, string? key)
    {
        var client = factory.CreateClient();
        if (key is not null)
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client;
    }

    /// <summary>Creates a key of <paramref name="role"/> through POST /keys as the bootstrap admin; returns (id, key).</summary>
    public static async Task<(string Id, string Key)> CreateKeyAsync(this FlowServiceFactory factory, string role, string? name = null)
    {
        var created = await (await factory.Client(AdminKey).PostAsJsonAsync("/keys", new { name = name ?? $"{role} key", role })).AssertJson(HttpStatusCode.Created);
        return (created.Text("id")!, created.Text("key")!);
    }
}
