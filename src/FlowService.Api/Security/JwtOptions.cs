namespace FlowService.Api.Security;

/// <summary>
/// OIDC / JWT bearer tokens, bound from <c>FlowService:Auth:Jwt</c>. On when <see cref="Authority"/> (keys from the
/// issuer's discovery document) or <see cref="SigningKey"/> (a symmetric key given here, for issuers without
/// discovery) is set. The role comes from the <see cref="RoleClaim"/> claim and must be reader, scorer, trainer or admin.
/// </summary>
public sealed class JwtOptions
{
    /// <summary>The OIDC issuer URL whose /.well-known/openid-configuration names the signing keys.</summary>
    public string? Authority { get; set; }

    /// <summary>The expected <c>iss</c>; defaults to <see cref="Authority"/>.</summary>
    public string? Issuer { get; set; }

    /// <summary>The expected <c>aud</c>; tokens for another audience are refused.</summary>
    public string? Audience { get; set; }

    /// <summary>Base64 of an HMAC-SHA256 key (at least 32 bytes) that signs tokens, instead of discovery.</summary>
    public string? SigningKey { get; set; }

    /// <summary>The claim that carries the role.</summary>
    public string RoleClaim { get; set; } = "role";

    /// <summary>
    /// True (the default, in every environment): the discovery document and the keys are fetched only over https, so nobody
    /// on the path can substitute signing keys. False allows an http <see cref="Authority"/>, for an issuer on loopback
    /// or inside the same pod (and tests); set it deliberately, never for an issuer across a network.
    /// </summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>No authority, or an absolute https URL (http only with <see cref="RequireHttpsMetadata"/> off).</summary>
    public bool HasUsableAuthority =>
        string.IsNullOrWhiteSpace(Authority)
        || (Uri.TryCreate(Authority, UriKind.Absolute, out var uri)
            && (uri.Scheme == Uri.UriSchemeHttps || (uri.Scheme == Uri.UriSchemeHttp && !RequireHttpsMetadata)));

    public bool Enabled => !string.IsNullOrWhiteSpace(Authority) || !string.IsNullOrWhiteSpace(SigningKey);
}
