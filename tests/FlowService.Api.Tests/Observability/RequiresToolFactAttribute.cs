namespace FlowService.Api.Tests.Observability;

/// <summary>
/// A fact that is skipped, with the reason shown in the test output, when a Debian tool it checks against is not
/// installed (./test.sh installs them when run as root).
/// </summary>
public sealed class RequiresToolFactAttribute : FactAttribute
{
    public RequiresToolFactAttribute(params string[] tools)
    {
        var missing = tools.Where(t => !ExternalTool.IsAvailable(t)).ToArray();
        if (missing.Length > 0) Skip = $"not installed: {string.Join(", ", missing)} (./test.sh installs the Debian packages as root)";
    }
}
