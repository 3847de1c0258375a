using System.Text.Json;
using FlowService.Api.Tests.Observability;

namespace FlowService.Api.Tests.Deployment;

/// <summary>
/// `dotnet run` must honour ASPNETCORE_ENVIRONMENT: a launch profile that sets it would override the caller's
/// Production with Development, which runs open (no keys) and with developer logging.
/// </summary>
public class LaunchProfileTests
{
    [Fact]
    public void No_launch_profile_sets_the_environment()
    {
        string path = Path.Combine(ExternalTool.RepositoryRoot(), "src", "FlowService.Api", "Properties", "launchSettings.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        foreach (var profile in document.RootElement.GetProperty("profiles").EnumerateObject())
            if (profile.Value.TryGetProperty("environmentVariables", out var variables))
                foreach (var name in new[] { "ASPNETCORE_ENVIRONMENT", "DOTNET_ENVIRONMENT" })
                    Assert.False(variables.TryGetProperty(name, out _), $"profile '{profile.Name}' sets {name}");
    }
}
