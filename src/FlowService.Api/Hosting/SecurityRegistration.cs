using FlowService.Api.Security;
using FlowService.Training.Jobs;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;

namespace FlowService.Api.Hosting;

/// <summary>
/// Who may call what: API keys (hashed in the metadata store) and, when configured, OIDC/JWT bearer tokens; one
/// policy per role, set on each endpoint group; per-key rate limits; 401/403/429 problems; security headers. Outside Development a process
/// that serves the API refuses to start with no way to authenticate unless <c>FlowService:Auth:Mode=none</c>.
/// </summary>
public static class SecurityRegistration
{
    /// <summary>With JWT configured, the default scheme: it forwards JWT-shaped bearers to JwtBearer and the rest to the key handler.</summary>
    public const string SelectorScheme = "FlowService";

    public static WebApplicationBuilder AddSecurity(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        builder.Services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section)
            .Validate(o => AuthOptions.Modes.Contains(o.Mode, StringComparer.OrdinalIgnoreCase), "FlowService:Auth:Mode must be auto, required or none.")
            .Validate(o => string.IsNullOrEmpty(o.BootstrapAdminKey) || (o.BootstrapAdminKey.Length >= 32 && !o.BootstrapAdminKey.Contains('.') && !o.BootstrapAdminKey.Any(char.IsWhiteSpace)),
                "FlowService:Auth:BootstrapAdminKey must be at least 32 characters without '.' or whitespace (e.g. openssl rand -base64 32 | tr -d '=+/').")
            .Validate(o => o.LastUsedFlushSeconds >= 1, "FlowService:Auth:LastUsedFlushSeconds must be at least 1.")
            .Validate(o => o.Jwt.HasUsableAuthority,
                "FlowService:Auth:Jwt:Authority must be an absolute https URL; an http one (an issuer on loopback) needs FlowService:Auth:Jwt:RequireHttpsMetadata=false.")
            .ValidateOnStart();

        var auth = builder.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>() ?? new AuthOptions();
        var state = Decide(auth, builder);
        builder.Services.AddSingleton(state);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeyValidator>();
        builder.Services.AddHostedService<BootstrapAdminKey>();
        builder.Services.AddHostedService<LastUsedFlusher>();

        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        // The running-jobs quota is enforced by whichever worker claims a job, so every worker process carries it.
        builder.Services.AddOptions<WorkerOptions>().Configure<IOptions<RateLimitOptions>>(
            (worker, limits) => worker.RunningJobsPerOwner = limits.Value.RunningJobsPerKey);
        if (state.Open)
        {
            // Open: every caller may do everything and there is no caller to limit per key, so no authentication,
            // authorization or rate-limiter services, and therefore none of their middleware (WebApplication adds the
            // first two itself whenever their services exist). The endpoints keep their role and limiter metadata for
            // a process that runs with keys; routing is told that nothing here enforces it.
            builder.Services.Configure<RouteOptions>(routing => routing.SuppressCheckForUnhandledSecurityMetadata = true);
            return builder;
        }

        // Replicas sharing PostgreSQL hear of each other's revocations (and cache verified keys only while they can).
        if (!string.IsNullOrWhiteSpace(builder.Configuration.GetConnectionString(StorageRegistration.PostgresConnectionName)))
            builder.Services.AddHostedService<KeyRevocationListener>();

        var jwt = auth.Jwt;
        // With JWT configured a selector scheme sends JWT-shaped bearers to JwtBearer and the rest to the key handler;
        // without it the key handler is the default scheme itself (one handler per request, not two).
        var authentication = builder.Services.AddAuthentication(jwt.Enabled ? SelectorScheme : ApiKeyAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(ApiKeyAuthenticationHandler.SchemeName, null);
        if (jwt.Enabled)
            authentication
                .AddPolicyScheme(SelectorScheme, "API key or JWT bearer", o => o.ForwardDefaultSelector = context =>
                    BearerToken.From(context.Request) is { } token && BearerToken.LooksLikeJwt(token)
                        ? JwtBearerDefaults.AuthenticationScheme
                        : ApiKeyAuthenticationHandler.SchemeName)
                .AddJwtBearer(o => ConfigureJwt(o, jwt));
        builder.Services.AddAuthorization(ApiPolicies.Add);
        var rateLimits = builder.Configuration.GetSection(RateLimitOptions.Section).Get<RateLimitOptions>() ?? new RateLimitOptions();
        builder.Services.AddRateLimiter(limiter => RateLimits.Configure(limiter, rateLimits, state));
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, ProblemAuthorizationResultHandler>();
        // The two services the middlewares call per request, each with a fast path for a cached key in front of the
        // framework's own (bench/RESULTS.md, "Serving, fifth pass").
        Decorate<IAuthenticationService, CachedKeyAuthenticationService>(builder.Services, CachedKeyAuthenticationService.InnerKey);
        Decorate<IPolicyEvaluator, RolePolicyEvaluator>(builder.Services, RolePolicyEvaluator.InnerKey);
        return builder;
    }

    public static WebApplication UseSecurity(this WebApplication app)
    {
        bool open = app.Services.GetRequiredService<AuthenticationState>().Open;
        if (open)
            app.Logger.LogWarning("AUTHENTICATION IS OFF: anyone who reaches this port can upload, train, move aliases, delete models and read checkpoints. " +
                "Set FlowService:Auth:BootstrapAdminKey (FlowService__Auth__BootstrapAdminKey) to require API keys.");
        app.Use((context, next) =>
        {
            context.Response.Headers.XContentTypeOptions = "nosniff";
            return next(context);
        });
        // Open: nothing to check or limit (AddSecurity registered none of it).
        if (open)
            return app;
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        return app;
    }

    /// <summary>/metrics: anonymous for Prometheus by default; any valid key (reader or above) with MetricsRequireKey.</summary>
    public static IEndpointConventionBuilder ProtectMetrics(this IEndpointConventionBuilder metrics, WebApplication app) =>
        app.Configuration.GetSection(AuthOptions.Section).Get<AuthOptions>()?.MetricsRequireKey == true
            ? metrics.RequireAuthorization(ApiPolicies.Reader)
            : metrics;

    /// <summary>
    /// Registers <typeparamref name="TDecorator"/> (a singleton) as <typeparamref name="TService"/> and keeps the
    /// framework's registration, with its lifetime, under <paramref name="innerKey"/> for the decorator to fall back to.
    /// </summary>
    static void Decorate<TService, TDecorator>(IServiceCollection services, string innerKey)
        where TService : class where TDecorator : class, TService
    {
        var framework = services.LastOrDefault(d => d.ServiceType == typeof(TService) && !d.IsKeyedService)
            ?? throw new InvalidOperationException($"No {typeof(TService).Name} is registered to decorate.");
        services.Add(framework switch
        {
            { ImplementationType: { } type } => new ServiceDescriptor(typeof(TService), innerKey, type, framework.Lifetime),
            { ImplementationFactory: { } factory } => new ServiceDescriptor(typeof(TService), innerKey, (provider, _) => factory(provider), framework.Lifetime),
            _ => throw new InvalidOperationException($"The framework's {typeof(TService).Name} is registered as an instance; expected a type or a factory."),
        });
        services.Remove(framework);
        services.AddSingleton<TService, TDecorator>();
    }

    static AuthenticationState Decide(AuthOptions auth, WebApplicationBuilder builder)
    {
        string mode = auth.Mode.ToLowerInvariant();
        if (mode == "none")
            return new AuthenticationState(Open: true);
        if (mode == "required" || !string.IsNullOrEmpty(auth.BootstrapAdminKey) || auth.Jwt.Enabled)
            return new AuthenticationState(Open: false);
        if (builder.Environment.IsDevelopment())
            return new AuthenticationState(Open: true);
        // A worker serves only /health and /metrics: it has nothing to protect and needs no credential.
        var role = builder.Configuration[$"{FlowServiceOptions.Section}:Role"];
        if (string.Equals(role, "worker", StringComparison.OrdinalIgnoreCase))
            return new AuthenticationState(Open: false);
        throw new InvalidOperationException(
            $"Refusing to start in {builder.Environment.EnvironmentName} with no way to authenticate callers. Set FlowService:Auth:BootstrapAdminKey " +
            "(environment FlowService__Auth__BootstrapAdminKey, at least 32 random characters) or FlowService:Auth:Jwt:Authority; " +
            "or FlowService:Auth:Mode=required to use keys already in the store; or FlowService:Auth:Mode=none to run open behind another gate.");
    }

    static void ConfigureJwt(JwtBearerOptions options, JwtOptions jwt)
    {
        options.MapInboundClaims = false;
        if (!string.IsNullOrWhiteSpace(jwt.Authority))
        {
            // JwtBearer fetches {Authority}/.well-known/openid-configuration and its jwks_uri, and fetches them again when a
            // token names a key it does not know, so keys rotated at the issuer are picked up without a restart.
            options.Authority = jwt.Authority;
            options.RequireHttpsMetadata = jwt.RequireHttpsMetadata;
        }
        options.TokenValidationParameters = new TokenValidationParameters
        {
            ValidateIssuer = true,
            ValidIssuer = jwt.Issuer ?? jwt.Authority,
            ValidateAudience = !string.IsNullOrWhiteSpace(jwt.Audience),
            ValidAudience = jwt.Audience,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = TimeSpan.FromSeconds(30),
            RoleClaimType = jwt.RoleClaim,
            NameClaimType = "sub",
        };
        if (!string.IsNullOrWhiteSpace(jwt.SigningKey))
        {
            options.TokenValidationParameters.IssuerSigningKey = new SymmetricSecurityKey(Convert.FromBase64String(jwt.SigningKey));
            options.TokenValidationParameters.ValidAlgorithms = [SecurityAlgorithms.HmacSha256];
        }
    }
}
