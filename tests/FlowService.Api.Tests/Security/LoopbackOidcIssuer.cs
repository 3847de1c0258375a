using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// A minimal OIDC issuer on a loopback port (Kestrel, plain http): it serves <c>/.well-known/openid-configuration</c>
/// naming itself as issuer and a JWKS with the public half of one RSA key, and signs RS256 tokens with the private half.
/// It counts the requests for each document, so a test can tell that the service really fetched them.
/// </summary>
public sealed class LoopbackOidcIssuer : IAsyncDisposable
{
    public const string KeyId = "loopback-key-1";

    readonly WebApplication _app;
    readonly RSA _rsa = RSA.Create(2048);
    int _discoveryRequests;
    int _keysRequests;

    LoopbackOidcIssuer(WebApplication app) => _app = app;

    /// <summary>The issuer URL, e.g. http://127.0.0.1:41234 (also the <c>iss</c> of its tokens).</summary>
    public string Authority { get; private set; } = "";

    public int DiscoveryRequests => Volatile.Read(ref _discoveryRequests);

    public int KeysRequests => Volatile.Read(ref _keysRequests);

    public static async Task<LoopbackOidcIssuer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var issuer = new LoopbackOidcIssuer(builder.Build());
        issuer._app.MapGet("/.well-known/openid-configuration", () =>
        {
            Interlocked.Increment(ref issuer._discoveryRequests);
            return Results.Json(new Dictionary<string, object>
            {
                ["issuer"] = issuer.Authority,
                ["jwks_uri"] = issuer.Authority + "/keys",
                ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
                ["response_types_supported"] = new[] { "code" },
                ["subject_types_supported"] = new[] { "public" },
            });
        });
        issuer._app.MapGet("/keys", () =>
        {
            Interlocked.Increment(ref issuer._keysRequests);
            var key = issuer._rsa.ExportParameters(includePrivateParameters: false);
            return Results.Json(new
            {
                keys = new[]
                {
                    new Dictionary<string, string>
                    {
                        ["kty"] = "RSA", ["use"] = "sig", ["alg"] = "RS256", ["kid"] = KeyId,
                        ["n"] = Base64UrlEncoder.Encode(key.Modulus!), ["e"] = Base64UrlEncoder.Encode(key.Exponent!),
                    },
                },
            });
        });
        await issuer._app.StartAsync();
        var addresses = issuer._app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>();
        issuer.Authority = addresses.Addresses.Single().TrimEnd('/');
        return issuer;
    }

    /// <summary>
    /// An RS256 token from this issuer, or signed by <paramref name="signer"/> instead (same key id: only the signature
    /// tells them apart).
    /// </summary>
    public string Token(string? role, string audience, DateTime? expires = null, RSA? signer = null, string? issuer = null)
    {
        var claims = new Dictionary<string, object> { ["sub"] = "oidc-user" };
        if (role is not null)
            claims["role"] = role;
        var end = expires ?? DateTime.UtcNow.AddMinutes(5);
        return new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer ?? Authority,
            Audience = audience,
            Claims = claims,
            NotBefore = end.AddMinutes(-10),
            IssuedAt = end.AddMinutes(-10),
            Expires = end,
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(signer ?? _rsa) { KeyId = KeyId }, SecurityAlgorithms.RsaSha256),
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _rsa.Dispose();
    }
}
