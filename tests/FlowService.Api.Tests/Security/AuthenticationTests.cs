using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using FlowService.Api.Security;
using FlowService.Training.Keys;
using Microsoft.Extensions.DependencyInjection;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// API keys over real HTTP: 401 problems without a valid key, the role matrix (reader, scorer, trainer, admin) as 403
/// problems, keys shown once and stored as SHA-256, revocation at once on another replica, expiry, last use, the
/// bootstrap key's rotation, and the start-up refusal outside Development.
/// </summary>
public class AuthenticationTests
{
    static StringContent Csv() => new("a,b\n1,2\n3,5\n4,4\n", Encoding.UTF8, "text/csv");

    [Fact]
    public async Task Without_a_valid_key_the_api_answers_401_problems_while_health_and_metrics_stay_open()
    {
        await using var factory = AuthFixture.Create();
        var anonymous = factory.Client(null);
        var response = await anonymous.GetAsync("/datasets");
        var problem = await response.AssertProblem(HttpStatusCode.Unauthorized);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        Assert.Contains("Authorization: Bearer", problem.Text("detail"));

        var unknown = await (await factory.Client("fsk_not-a-real-key").PostAsync("/score", new StringContent("{}", Encoding.UTF8, "application/json")))
            .AssertProblem(HttpStatusCode.Unauthorized);
        Assert.Contains("unknown or has been revoked", unknown.Text("detail"));
        var basic = factory.CreateClient();
        basic.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", "YWRtaW46YWRtaW4=");
        Assert.Contains("Bearer", (await (await basic.GetAsync("/models")).AssertProblem(HttpStatusCode.Unauthorized)).Text("detail"));

        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/live")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/metrics")).StatusCode);
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task Each_role_can_do_what_the_issue_lists_and_is_refused_the_rest_with_a_problem_naming_the_role()
    {
        await using var factory = AuthFixture.Create();
        var reader = factory.Client((await factory.CreateKeyAsync(ApiRoles.Reader)).Key);
        var scorer = factory.Client((await factory.CreateKeyAsync(ApiRoles.Scorer)).Key);
        var trainer = factory.Client((await factory.CreateKeyAsync(ApiRoles.Trainer)).Key);
        var admin = factory.Client(AuthFixture.AdminKey);

        // reader: GETs only.
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/datasets")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/jobs")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/models")).StatusCode);
        var refused = await (await reader.PostAsync("/datasets?name=d", Csv())).AssertProblem(HttpStatusCode.Forbidden);
        Assert.Contains("needs role 'trainer'", refused.Text("detail"));
        Assert.Contains("role is 'reader'", refused.Text("detail"));
        await (await reader.GetAsync("/sample?model=m")).AssertProblem(HttpStatusCode.Forbidden);

        // scorer: inference too (404: no such model, past the role check), but no uploads.
        await (await scorer.GetAsync("/sample?model=m")).AssertProblem(HttpStatusCode.NotFound);
        await (await scorer.PostAsJsonAsync("/score", new { model = "m", rows = new[] { new[] { 1.0 } } })).AssertProblem(HttpStatusCode.NotFound);
        await (await scorer.PostAsync("/datasets?name=d", Csv())).AssertProblem(HttpStatusCode.Forbidden);

        // trainer: datasets and jobs, but not deletes, aliases or keys.
        var dataset = await (await trainer.PostAsync("/datasets?name=d", Csv())).AssertJson(HttpStatusCode.Created);
        var job = await (await trainer.PostAsJsonAsync("/jobs", new { datasetId = dataset.Text("id"), model = "m" })).AssertJson(HttpStatusCode.Accepted);
        Assert.Equal(HttpStatusCode.OK, (await trainer.PostAsync($"/jobs/{job.Text("id")}/cancel", null)).StatusCode);
        await (await trainer.DeleteAsync($"/datasets/{dataset.Text("id")}")).AssertProblem(HttpStatusCode.Forbidden);
        await (await trainer.PutAsJsonAsync("/models/m/aliases/production", new { version = 1 })).AssertProblem(HttpStatusCode.Forbidden);
        await (await trainer.DeleteAsync("/models/m/versions/1")).AssertProblem(HttpStatusCode.Forbidden);
        await (await trainer.GetAsync("/keys")).AssertProblem(HttpStatusCode.Forbidden);
        await (await trainer.PostAsJsonAsync("/keys", new { name = "escalate", role = "admin" })).AssertProblem(HttpStatusCode.Forbidden);

        // admin: everything.
        Assert.Equal(HttpStatusCode.NoContent, (await admin.DeleteAsync($"/datasets/{dataset.Text("id")}")).StatusCode);
        await (await admin.PutAsJsonAsync("/models/m/aliases/production", new { version = 1 })).AssertProblem(HttpStatusCode.NotFound);
        Assert.Equal(4, (await (await admin.GetAsync("/keys")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }

    [Fact]
    public async Task A_key_is_shown_once_and_stored_only_as_its_sha256()
    {
        await using var factory = AuthFixture.Create();
        var admin = factory.Client(AuthFixture.AdminKey);
        var created = await (await admin.PostAsJsonAsync("/keys", new { name = "ci", role = "scorer", expiresAt = DateTimeOffset.UtcNow.AddDays(30) })).AssertJson(HttpStatusCode.Created);
        string key = created.Text("key")!;
        Assert.StartsWith(ApiKeys.Prefix, key);
        Assert.True(key.Length >= 40, key);
        Assert.Equal("scorer", created.Text("role"));

        var listed = (await (await admin.GetAsync("/keys")).AssertJson(HttpStatusCode.OK)).EnumerateArray().Single(k => k.Text("id") == created.Text("id"));
        Assert.Null(listed.Text("key"));
        Assert.Equal("ci", listed.Text("name"));
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, listed.GetProperty("expiresAt").ValueKind);

        var stored = (await factory.Services.GetRequiredService<IApiKeyStore>().ListAsync()).Single(k => k.Id == created.Text("id"));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key))), stored.Hash);
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(factory.DataPath, "flowservice.db*"))
            Assert.DoesNotContain(key, Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file)));

        await (await admin.PostAsJsonAsync("/keys", new { name = "x", role = "root" })).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("expiresAt", (await (await admin.PostAsJsonAsync("/keys", new { name = "x", role = "reader", expiresAt = DateTimeOffset.UtcNow.AddMinutes(-1) }))
            .AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
        Assert.Equal("name", (await (await admin.PostAsJsonAsync("/keys", new { name = "a\nb", role = "reader" })).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Revoking_a_key_stops_it_at_once_on_every_replica(StoreBackend backend)
    {
        await using var first = AuthFixture.Create(backend);
        var (id, key) = await first.CreateKeyAsync(ApiRoles.Reader);
        Assert.Equal(HttpStatusCode.OK, (await first.Client(key).GetAsync("/datasets")).StatusCode);
        if (backend == StoreBackend.Postgres)
        {
            // A second replica over the same database: the key works there (and is cached there for a minute), and stops
            // there too once revoked through the first, as the revocation's NOTIFY arrives.
            await using var second = AuthFixture.Create(backend, AuthFixture.LongKeyCache, postgres: first.PostgresConnection);
            await second.WaitUntilListeningAsync();
            Assert.Equal(HttpStatusCode.OK, (await second.Client(key).GetAsync("/datasets")).StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await second.Client(key).GetAsync("/datasets")).StatusCode);
            Assert.Equal(HttpStatusCode.NoContent, (await first.Client(AuthFixture.AdminKey).DeleteAsync($"/keys/{id}")).StatusCode);
            var sinceRevocation = System.Diagnostics.Stopwatch.StartNew();
            HttpResponseMessage refused;
            while ((refused = await second.Client(key).GetAsync("/datasets")).StatusCode == HttpStatusCode.OK)
            {
                Assert.True(sinceRevocation.Elapsed < TimeSpan.FromSeconds(10), "the second replica still accepts the revoked key 10 s after the revocation");
                await Task.Delay(2);
            }
            await refused.AssertProblem(HttpStatusCode.Unauthorized);
        }
        else
            Assert.Equal(HttpStatusCode.NoContent, (await first.Client(AuthFixture.AdminKey).DeleteAsync($"/keys/{id}")).StatusCode);
        var problem = await (await first.Client(key).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Unauthorized);
        Assert.Contains("revoked", problem.Text("detail"));
        await (await first.Client(AuthFixture.AdminKey).DeleteAsync($"/keys/{id}")).AssertProblem(HttpStatusCode.NotFound);
    }

    [Theory]
    [PostgresData]
    public async Task With_PostgreSQL_verified_keys_are_cached_and_only_a_notified_revocation_drops_them(StoreBackend backend)
    {
        await using var replica = AuthFixture.Create(backend, AuthFixture.LongKeyCache);
        await replica.WaitUntilListeningAsync();
        var (id, key) = await replica.CreateKeyAsync(ApiRoles.Reader);
        Assert.Equal(HttpStatusCode.OK, (await replica.Client(key).GetAsync("/datasets")).StatusCode);
        // The row goes behind the service's back, with no notification: the replica keeps serving the key from its
        // cache (no database round trip per request) until the cache's time is up (a minute here).
        await using (var connection = new Npgsql.NpgsqlConnection(replica.PostgresConnection))
        {
            await connection.OpenAsync();
            await using var delete = new Npgsql.NpgsqlCommand("DELETE FROM api_keys WHERE id = @id", connection);
            delete.Parameters.AddWithValue("id", id);
            Assert.Equal(1, await delete.ExecuteNonQueryAsync());
            Assert.Equal(HttpStatusCode.OK, (await replica.Client(key).GetAsync("/datasets")).StatusCode);
            // The notification a revocation sends drops it at once.
            await using var notify = new Npgsql.NpgsqlCommand($"SELECT pg_notify('{PostgresApiKeyStore.RevocationChannel}', @id)", connection);
            notify.Parameters.AddWithValue("id", id);
            await notify.ExecuteNonQueryAsync();
        }
        var sinceNotification = System.Diagnostics.Stopwatch.StartNew();
        while ((await replica.Client(key).GetAsync("/datasets")).StatusCode == HttpStatusCode.OK)
        {
            Assert.True(sinceNotification.Elapsed < TimeSpan.FromSeconds(10), "the replica still accepts the key 10 s after its revocation was notified");
            await Task.Delay(2);
        }
    }

    [Fact]
    public async Task Expired_keys_are_refused_and_last_use_is_recorded_without_a_write_per_request()
    {
        await using var factory = AuthFixture.Create();
        var store = factory.Services.GetRequiredService<IApiKeyStore>();
        string expiredKey = ApiKeys.New();
        await store.AddAsync(new ApiKeyRecord("old", "old", ApiRoles.Admin, ApiKeys.Hash(expiredKey), DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(-1), null));
        Assert.Contains("expired", (await (await factory.Client(expiredKey).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Unauthorized)).Text("detail"));

        var (id, key) = await factory.CreateKeyAsync(ApiRoles.Reader);
        var before = DateTimeOffset.UtcNow;
        Assert.Equal(HttpStatusCode.OK, (await factory.Client(key).GetAsync("/models")).StatusCode);
        Assert.Null((await store.ListAsync()).Single(k => k.Id == id).LastUsedAt);
        var shown = (await (await factory.Client(AuthFixture.AdminKey).GetAsync("/keys")).AssertJson(HttpStatusCode.OK)).EnumerateArray().Single(k => k.Text("id") == id);
        Assert.True(shown.GetProperty("lastUsedAt").GetDateTimeOffset() >= before.AddSeconds(-1));

        await factory.Services.GetRequiredService<ApiKeyValidator>().FlushLastUsedAsync(CancellationToken.None);
        Assert.True((await store.ListAsync()).Single(k => k.Id == id).LastUsedAt >= before.AddSeconds(-1));
    }

    [Fact]
    public async Task Changing_the_bootstrap_key_revokes_the_old_one()
    {
        string dataPath = Path.Combine(Path.GetTempPath(), "flowservice-api-tests", Guid.NewGuid().ToString("N"));
        try
        {
            await using (var first = AuthFixture.Create(dataPath: dataPath))
                Assert.Equal(HttpStatusCode.OK, (await first.Client(AuthFixture.AdminKey).GetAsync("/keys")).StatusCode);
            string rotated = "rotated-bootstrap-admin-key-fedcba9876543210";
            await using var second = AuthFixture.Create(dataPath: dataPath, adminKey: rotated);
            await (await second.Client(AuthFixture.AdminKey).GetAsync("/keys")).AssertProblem(HttpStatusCode.Unauthorized);
            var keys = await (await second.Client(rotated).GetAsync("/keys")).AssertJson(HttpStatusCode.OK);
            Assert.Equal(BootstrapAdminKey.Id, keys.EnumerateArray().Single().Text("id"));
        }
        finally
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(dataPath, recursive: true);
        }
    }

    [Fact]
    public async Task Production_without_a_credential_refuses_to_start_unless_mode_is_none()
    {
        await using (var refused = new FlowServiceFactory(worker: false, environment: "Production"))
        {
            var error = Assert.ThrowsAny<Exception>(() => refused.CreateClient());
            Assert.Contains("FlowService:Auth:BootstrapAdminKey", error.ToString());
        }
        await using (var weak = new FlowServiceFactory(worker: false, environment: "Production", settings: new() { ["FlowService:Auth:BootstrapAdminKey"] = "short" }))
            Assert.Contains("at least 32 characters", Assert.ThrowsAny<Exception>(() => weak.CreateClient()).ToString());

        await using var open = new FlowServiceFactory(worker: false, environment: "Production", settings: new() { ["FlowService:Auth:Mode"] = "none" });
        Assert.Equal(HttpStatusCode.OK, (await open.CreateClient().GetAsync("/datasets")).StatusCode);
        await using var required = new FlowServiceFactory(worker: false, environment: "Production", settings: new() { ["FlowService:Auth:Mode"] = "required" });
        await (await required.CreateClient().GetAsync("/datasets")).AssertProblem(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Running_open_registers_no_authentication_authorization_or_rate_limiter_and_ignores_credentials()
    {
        await using var open = new FlowServiceFactory(worker: false, environment: "Production", settings: new() { ["FlowService:Auth:Mode"] = "none" });
        var client = open.CreateClient();
        // With their services registered, WebApplication would put authentication and authorization middleware on
        // every request; open, there must be nothing to run.
        Assert.Null(open.Services.GetService<Microsoft.AspNetCore.Authentication.IAuthenticationSchemeProvider>());
        Assert.Null(open.Services.GetService<Microsoft.AspNetCore.Authorization.IAuthorizationService>());
        Assert.Null(open.Services.GetService<Microsoft.Extensions.Options.IConfigureOptions<Microsoft.AspNetCore.RateLimiting.RateLimiterOptions>>());
        // Endpoints that require a role (admin: keys) answer anyone, whatever Authorization header comes along.
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "not-a-key");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/keys")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/datasets")).StatusCode);
    }

    [Fact]
    public async Task Metrics_need_a_key_when_configured_and_swagger_offers_the_bearer_scheme()
    {
        await using var factory = AuthFixture.Create(settings: new() { ["FlowService:Auth:MetricsRequireKey"] = "true" });
        await (await factory.Client(null).GetAsync("/metrics")).AssertProblem(HttpStatusCode.Unauthorized);
        var (_, key) = await factory.CreateKeyAsync(ApiRoles.Reader);
        Assert.Equal(HttpStatusCode.OK, (await factory.Client(key).GetAsync("/metrics")).StatusCode);

        string document = await factory.Client(null).GetStringAsync("/swagger/v1/swagger.json");
        Assert.Contains("\"securitySchemes\"", document);
        Assert.Contains("\"scheme\": \"bearer\"", document);
    }
}
