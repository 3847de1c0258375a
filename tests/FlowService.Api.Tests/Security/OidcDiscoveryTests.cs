using System.Net;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// JWT bearer tokens with OIDC discovery for real: <see cref="LoopbackOidcIssuer"/> serves the discovery document and
/// the JWKS on a loopback port, the service is configured with only its Authority and an audience, and fetches both over
/// HTTP; tokens signed by the issuer's key authorize by their role claim, anything else is 401.
/// </summary>
public class OidcDiscoveryTests
{
    const string Audience = "flowservice-api";

    static FlowServiceFactory Create(LoopbackOidcIssuer issuer) => AuthFixture.Create(settings: new()
    {
        ["FlowService:Auth:Jwt:Authority"] = issuer.Authority,
        ["FlowService:Auth:Jwt:Audience"] = Audience,
        // The loopback issuer speaks plain http; without this the service refuses to start (below).
        ["FlowService:Auth:Jwt:RequireHttpsMetadata"] = "false",
    });

    [Fact]
    public async Task Tokens_signed_with_the_key_from_the_issuers_discovery_document_authorize_by_their_role()
    {
        await using var issuer = await LoopbackOidcIssuer.StartAsync();
        await using var factory = Create(issuer);

        var reader = factory.Client(issuer.Token("reader", Audience));
        Assert.Equal(HttpStatusCode.OK, (await reader.GetAsync("/datasets")).StatusCode);
        Assert.True(issuer.DiscoveryRequests >= 1, "the discovery document was never fetched");
        Assert.True(issuer.KeysRequests >= 1, "the JWKS was never fetched");
        var refused = await (await reader.GetAsync("/sample?model=m")).AssertProblem(HttpStatusCode.Forbidden);
        Assert.Contains("role is 'reader'", refused.Text("detail"));
        await (await factory.Client(issuer.Token("scorer", Audience)).GetAsync("/sample?model=m")).AssertProblem(HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.OK, (await factory.Client(issuer.Token("admin", Audience)).GetAsync("/keys")).StatusCode);
        await (await factory.Client(issuer.Token("trainer", Audience)).GetAsync("/keys")).AssertProblem(HttpStatusCode.Forbidden);
        // API keys keep working beside discovered tokens.
        Assert.Equal(HttpStatusCode.OK, (await factory.Client(AuthFixture.AdminKey).GetAsync("/keys")).StatusCode);
    }

    [Fact]
    public async Task Tokens_from_another_key_expired_for_another_audience_or_issuer_are_401_problems()
    {
        await using var issuer = await LoopbackOidcIssuer.StartAsync();
        await using var factory = Create(issuer);
        // The genuine token first, so a refusal below cannot be a discovery that failed.
        Assert.Equal(HttpStatusCode.OK, (await factory.Client(issuer.Token("admin", Audience)).GetAsync("/datasets")).StatusCode);

        using var stranger = RSA.Create(2048);
        foreach (var token in new[]
                 {
                     issuer.Token("admin", Audience, signer: stranger),
                     issuer.Token("admin", Audience, expires: DateTime.UtcNow.AddMinutes(-5)),
                     issuer.Token("admin", "some-other-api"),
                     issuer.Token("admin", Audience, issuer: "http://127.0.0.1:1"),
                 })
        {
            var response = await factory.Client(token).GetAsync("/datasets");
            var problem = await response.AssertProblem(HttpStatusCode.Unauthorized);
            Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
            // No stack frame or server path leaks into the problem.
            Assert.DoesNotMatch(@"\bat [\w.]+\(|/(tmp|work|home|usr)/", problem.GetRawText());
        }
        await (await factory.Client(issuer.Token(null, Audience)).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task An_http_authority_without_require_https_metadata_false_stops_the_start_naming_the_setting()
    {
        await using var issuer = await LoopbackOidcIssuer.StartAsync();
        await using var factory = AuthFixture.Create(settings: new()
        {
            ["FlowService:Auth:Jwt:Authority"] = issuer.Authority,
            ["FlowService:Auth:Jwt:Audience"] = Audience,
        });

        var error = Record.Exception(() => factory.CreateClient());

        var validation = Assert.IsType<OptionsValidationException>(error is AggregateException a ? a.InnerException : error);
        Assert.Contains("RequireHttpsMetadata", validation.Message);
        Assert.Equal(0, issuer.DiscoveryRequests);
    }
}
