using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using FlowService.Api.Security;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

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

    /// <summary>
    /// Settings for a replica whose verified keys stay cached for a minute: within a test only a notified revocation
    /// drops one, however slow the machine.
    /// </summary>
    public static Dictionary<string, string?> LongKeyCache => new() { ["FlowService:Auth:KeyCacheMilliseconds"] = "60000" };

    /// <summary>
    /// Waits until the replica hears revocations (PostgreSQL): before that its cache is off, and the moment it starts
    /// listening it drops every key it had verified.
    /// </summary>
    public static async Task WaitUntilListeningAsync(this FlowServiceFactory factory)
    {
        var listener = factory.Services.GetServices<IHostedService>().OfType<KeyRevocationListener>().Single();
        for (var deadline = DateTime.UtcNow.AddSeconds(30); !listener.IsListening; await Task.Delay(20))
            Assert.True(DateTime.UtcNow < deadline, "the replica did not start listening for key revocations within 30 s");
    }

    /// <summary>Creates a key of <paramref name="role"/> through POST /keys as the bootstrap admin; returns (id, key).</summary>
    public static async Task<(string Id, string Key)> CreateKeyAsync(this FlowServiceFactory factory, string role, string? name = null)
    {
        var created = await (await factory.Client(AdminKey).PostAsJsonAsync("/keys", new { name = name ?? $"{role} key", role })).AssertJson(HttpStatusCode.Created);
        return (created.Text("id")!, created.Text("key")!);
    }
}
