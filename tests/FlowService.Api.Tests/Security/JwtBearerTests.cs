using System.Net;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// OIDC/JWT bearer tokens signed locally with a symmetric key given in configuration (no network): the role comes from
/// the configured claim; a wrong signature, issuer, audience, an expired token or an unknown role is refused.
/// </summary>
public class JwtBearerTests
{
    static readonly byte[] SigningKey = Encoding.UTF8.GetBytes("a-local-test-signing-key-of-32-bytes+");
    const string Issuer = "https://issuer.test";
    const string Audience = "flowservice";

    static FlowServiceFactory Create() => AuthFixture.Create(settings: new()
    {
        ["FlowService:Auth:Jwt:SigningKey"] = Convert.ToBase64String(SigningKey),
        ["FlowService:Auth:Jwt:Issuer"] = Issuer,
        ["FlowService:Auth:Jwt:Audience"] = Audience,
        ["FlowService:Auth:Jwt:RoleClaim"] = "flowservice_role",
    });

    static string Token(string? role, byte[]? key = null, string issuer = Issuer, string audience = Audience, DateTime? expires = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = "alice" };
        if (role is not null)
            claims["flowservice_role"] = role;
        var now = DateTime.UtcNow;
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Claims = claims,
            NotBefore = (expires ?? now.AddMinutes(5)).AddMinutes(-10),
            IssuedAt = (expires ?? now.AddMinutes(5)).AddMinutes(-10),
            Expires = expires ?? now.AddMinutes(5),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(key ?? SigningKey), SecurityAlgorithms.HmacSha256),
        });
    }

    [Fact]
    public async Task A_token_with_a_role_claim_is_authorized_like_a_key_of_that_role()
    {
        await using var factory = Create();
        var scorer = factory.Client(Token("scorer"));
        Assert.Equal(HttpStatusCode.OK, (await scorer.GetAsync("/datasets")).StatusCode);
        await (await scorer.GetAsync("/sample?model=m")).AssertProblem(HttpStatusCode.NotFound);
        var refused = await (await scorer.PostAsync("/datasets?name=d", new StringContent("a,b\n1,2\n3,5\n", Encoding.UTF8, "text/csv"))).AssertProblem(HttpStatusCode.Forbidden);
        Assert.Contains("role is 'scorer'", refused.Text("detail"));
        Assert.Equal(HttpStatusCode.OK, (await factory.Client(Token("admin")).GetAsync("/keys")).StatusCode);
        // Keys keep working beside tokens.
        Assert.Equal(HttpStatusCode.OK, (await factory.Client(AuthFixture.AdminKey).GetAsync("/keys")).StatusCode);
    }

    [Fact]
    public async Task Forged_expired_foreign_or_roleless_tokens_are_refused()
    {
        await using var factory = Create();
        var forged = Token("admin", key: Encoding.UTF8.GetBytes("another-key-that-nobody-configured!!"));
        await (await factory.Client(forged).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Unauthorized);
        await (await factory.Client(Token("admin", expires: DateTime.UtcNow.AddMinutes(-5))).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Unauthorized);
        await (await factory.Client(Token("admin", issuer: "https://evil.test")).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Unauthorized);
        await (await factory.Client(Token("admin", audience: "other")).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Unauthorized);
        await (await factory.Client(Token(null)).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Forbidden);
        await (await factory.Client(Token("root")).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Forbidden);
        string unsigned = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = Issuer, Audience = Audience, Claims = new Dictionary<string, object> { ["flowservice_role"] = "admin" }, Expires = DateTime.UtcNow.AddMinutes(5),
        });
        await (await factory.Client(unsigned).GetAsync("/datasets")).AssertProblem(HttpStatusCode.Unauthorized);
    }
}
