using FlowService.Training.Keys;
using Microsoft.AspNetCore.Authorization;

namespace FlowService.Api.Security;

/// <summary>One authorization policy per role, named after it, each admitting that role and every role above it.</summary>
public static class ApiPolicies
{
    public const string Reader = ApiRoles.Reader;
    public const string Scorer = ApiRoles.Scorer;
    public const string Trainer = ApiRoles.Trainer;
    public const string Admin = ApiRoles.Admin;

    public static void Add(AuthorizationOptions options)
    {
        foreach (var role in ApiRoles.All)
            options.AddPolicy(role, policy => policy.RequireAuthenticatedUser().RequireRole(ApiRoles.AtLeast(role)));
    }
}
