using System.Security.Cryptography;
using System.Text;

namespace FlowService.Api.Security;

/// <summary>New keys (256 random bits, base64url, prefixed so they are recognizable in a leaked file) and their stored hash.</summary>
public static class ApiKeys
{
    public const string Prefix = "fsk_";

    public static string New() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    /// <summary>
    /// SHA-256, lower-case hex. A fast hash is enough: the key has 256 bits of entropy, so there is nothing to guess,
    /// unlike a password; a slow KDF would only cost every request.
    /// </summary>
    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
