using System.Net;
using System.Security.Claims;
using FlowService.Api.Security;
using FlowService.Training.Keys;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Infrastructure;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace FlowService.Api.Tests.Security;

/// <summary>
/// The per-request fast paths in front of the framework's authentication service and policy evaluator
/// (<see cref="CachedKeyAuthenticationService"/>, <see cref="RolePolicyEvaluator"/>): they answer only what the
/// framework would answer, and step aside for everything else.
/// </summary>
public class AuthenticationFastPathTests
{
    [Fact]
    public async Task A_cached_key_gets_its_shared_result_and_an_uncached_revoked_or_unknown_one_goes_to_the_framework()
    {
        await using var factory = AuthFixture.Create();
        var (id, key) = await factory.CreateKeyAsync(ApiRoles.Scorer);
        var service = factory.Services.GetRequiredService<IAuthenticationService>();
        Assert.IsType<CachedKeyAuthenticationService>(service);

        // The key was verified by nobody yet (POST /keys presented the admin key): the first check asks the store
        // through the handler; then the cache answers, with one shared result whatever the default scheme's name.
        var first = await Authenticate(factory, key, ApiKeyAuthenticationHandler.SchemeName);
        Assert.True(first.Succeeded);
        var second = Authenticate(factory, key, ApiKeyAuthenticationHandler.SchemeName);
        var third = Authenticate(factory, key, null);
        Assert.Same(second, third);
        Assert.True(second.IsCompletedSuccessfully);
        var principal = (await second).Principal!;
        Assert.Equal(id, principal.FindFirstValue(ApiKeyAuthenticationHandler.KeyIdClaim));
        Assert.True(principal.IsInRole(ApiRoles.Scorer));
        Assert.Same(second, ApiKeyAuthenticationHandler.TaskOf(await second));
        Assert.Null(ApiKeyAuthenticationHandler.TaskOf(first));

        // Revoked: the cache no longer answers and the framework's path reports why.
        factory.Services.GetRequiredService<ApiKeyValidator>().Forget(id);
        await factory.Services.GetRequiredService<IApiKeyStore>().DeleteAsync(id, CancellationToken.None);
        var revoked = await Authenticate(factory, key, ApiKeyAuthenticationHandler.SchemeName);
        Assert.False(revoked.Succeeded);
        Assert.Contains("unknown or has been revoked", revoked.Failure!.Message);
        Assert.False((await Authenticate(factory, null, null)).Succeeded);
    }

    [Fact]
    public async Task A_claims_transformation_turns_the_fast_path_off_instead_of_being_bypassed()
    {
        await using var plain = AuthFixture.Create();
        await using var factory = plain.WithWebHostBuilder(builder =>
            builder.ConfigureTestServices(services => services.AddSingleton<IClaimsTransformation, TagTransformation>()));
        for (int i = 0; i < 3; i++)
        {
            var result = await Authenticate(factory, AuthFixture.AdminKey, null);
            Assert.True(result.Succeeded);
            Assert.Equal("yes", result.Principal!.FindFirstValue(TagTransformation.Claim));
        }
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", AuthFixture.AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/keys")).StatusCode);
    }

    [Fact]
    public async Task The_role_fast_path_admits_exactly_what_the_framework_admits_and_nothing_else()
    {
        await using var factory = AuthFixture.Create();
        var evaluator = factory.Services.GetRequiredService<IPolicyEvaluator>();
        Assert.IsType<RolePolicyEvaluator>(evaluator);
        var policies = factory.Services.GetRequiredService<IAuthorizationPolicyProvider>();
        using var scope = factory.Services.CreateScope();
        var framework = scope.ServiceProvider.GetRequiredKeyedService<IPolicyEvaluator>(RolePolicyEvaluator.InnerKey);
        Assert.IsNotType<RolePolicyEvaluator>(framework);

        // Key principals (the handler's own) and principals from elsewhere (as a JWT's), every role, and an anonymous one.
        var callers = new List<(string Name, AuthenticateResult Result)>();
        foreach (var role in ApiRoles.All)
        {
            var record = new ApiKeyRecord($"id-{role}", role, role, "hash", DateTimeOffset.UtcNow, null, null);
            callers.Add(($"key {role}", await ApiKeyAuthenticationHandler.Authenticated(record)));
            var jwt = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "s"), new Claim("roles", role)], "Bearer", "sub", "roles"));
            callers.Add(($"jwt {role}", AuthenticateResult.Success(new AuthenticationTicket(jwt, "Bearer"))));
        }
        callers.Add(("jwt without a role", AuthenticateResult.Success(new AuthenticationTicket(
            new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "s")], "Bearer")), "Bearer"))));
        callers.Add(("anonymous", AuthenticateResult.NoResult()));

        var refusing = new AuthorizationPolicyBuilder((await policies.GetPolicyAsync(ApiRoles.Reader))!)
            .AddRequirements(new AssertionRequirement(_ => false)).Build();
        int admitted = 0;
        foreach (var policy in ApiRoles.All.Select(role => policies.GetPolicyAsync(role).Result!).Append(refusing))
        {
            foreach (var (name, result) in callers)
            {
                var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider, User = result.Principal ?? new ClaimsPrincipal(new ClaimsIdentity()) };
                var fast = await evaluator.AuthorizeAsync(policy, result, context, context);
                var expected = await framework.AuthorizeAsync(policy, result, context, context);
                Assert.True((fast.Succeeded, fast.Challenged, fast.Forbidden) == (expected.Succeeded, expected.Challenged, expected.Forbidden),
                    $"{name} under [{string.Join(", ", policy.Requirements)}]: fast {fast.Succeeded}/{fast.Challenged}/{fast.Forbidden}, framework {expected.Succeeded}/{expected.Challenged}/{expected.Forbidden}");
                admitted += fast.Succeeded ? 1 : 0;
            }
        }
        // Reader admits 4 roles, scorer 3, trainer 2, admin 1: for keys and JWTs alike; the refusing policy none.
        Assert.Equal(2 * (4 + 3 + 2 + 1), admitted);
    }

    /// <summary>One request's authentication, in a scope of its own as the server gives each request.</summary>
    static Task<AuthenticateResult> Authenticate(Microsoft.AspNetCore.Mvc.Testing.WebApplicationFactory<Program> factory, string? key, string? scheme)
    {
        var scope = factory.Services.CreateScope();
        var context = new DefaultHttpContext { RequestServices = scope.ServiceProvider };
        if (key is not null)
            context.Request.Headers.Authorization = $"Bearer {key}";
        var result = factory.Services.GetRequiredService<IAuthenticationService>().AuthenticateAsync(context, scheme);
        _ = result.ContinueWith(_ => scope.Dispose(), TaskScheduler.Default);
        return result;
    }

    sealed class TagTransformation : IClaimsTransformation
    {
        public const string Claim = "transformed";

        public Task<ClaimsPrincipal> TransformAsync(ClaimsPrincipal principal)
        {
            // A new identity: ClaimsPrincipal.Clone shares its identities, and the key's principal is shared by its requests.
            var identity = ((ClaimsIdentity)principal.Identity!).Clone();
            identity.AddClaim(new Claim(Claim, "yes"));
            return Task.FromResult(new ClaimsPrincipal(identity));
        }
    }
}
