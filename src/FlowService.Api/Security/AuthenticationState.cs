namespace FlowService.Api.Security;

/// <summary>Whether this process checks callers (decided once at start from <see cref="AuthOptions"/> and the environment).</summary>
/// <param name="Open">True: no key needed, every caller an admin (Mode=none, or Development with no credential configured).</param>
public sealed record AuthenticationState(bool Open);
