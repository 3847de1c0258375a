using System.Text.Json;
using System.Text.RegularExpressions;
using FlowService.Api.Tests.Observability;

namespace FlowService.Api.Tests.Deployment;

/// <summary>
/// The deployment files as their own tools read them: promtool for the Prometheus config and rules,
/// docker-compose for the compose file, and static checks of the Dockerfile and the Grafana provisioning.
/// (kubectl kustomize is checked in <see cref="KustomizeTests"/>.)
/// </summary>
public sealed class DeploymentFilesTests
{
    private static readonly string Root = ExternalTool.RepositoryRoot();

    [RequiresToolFact("promtool")]
    public async Task Promtool_accepts_the_prometheus_config_and_its_rule_files()
    {
        var config = await ExternalTool.RunAsync("promtool", ["check", "config", "deploy/prometheus/prometheus.yml"], workingDirectory: Root);
        Assert.True(config.ExitCode == 0, config.StdOut + config.StdErr);
        Assert.Contains("1 rule files found", config.StdOut + config.StdErr);
        var rules = await ExternalTool.RunAsync("promtool", ["check", "rules", "deploy/prometheus/rules/flowservice.rules.yml"], workingDirectory: Root);
        Assert.True(rules.ExitCode == 0, rules.StdOut + rules.StdErr);
    }

    [RequiresToolFact("docker-compose", ExternalTool.PythonYaml)]
    public async Task Docker_compose_accepts_the_stack_with_api_and_worker_from_one_image()
    {
        var (code, stdout, stderr) = await ExternalTool.RunAsync("docker-compose",
            ["-f", "docker-compose.yml", "--profile", "standalone", "config"], workingDirectory: Root);
        Assert.True(code == 0, stderr);
        var services = (await ExternalTool.YamlDocumentsAsync(stdout))[0].GetProperty("services");

        foreach (var name in new[] { "api", "worker", "standalone", "postgres", "prometheus", "grafana", "jaeger" })
        {
            Assert.True(services.TryGetProperty(name, out _), $"service {name} missing");
        }
        string Role(string service) => services.GetProperty(service).GetProperty("environment").GetProperty("FlowService__Role").GetString()!;
        Assert.Equal("api", Role("api"));
        Assert.Equal("worker", Role("worker"));
        Assert.Equal("all", Role("standalone"));
        // api and worker export traces over OTLP to the compose file's Jaeger, each under its own service name.
        foreach (var service in new[] { "api", "worker" })
        {
            var env = services.GetProperty(service).GetProperty("environment");
            Assert.Equal("http://jaeger:4317", env.GetProperty("OTEL_EXPORTER_OTLP_ENDPOINT").GetString());
            Assert.Equal("flowservice-" + service, env.GetProperty("OTEL_SERVICE_NAME").GetString());
        }
        Assert.Equal("true", services.GetProperty("jaeger").GetProperty("environment").GetProperty("COLLECTOR_OTLP_ENABLED").GetString());
        var image = services.GetProperty("api").GetProperty("image").GetString();
        Assert.Equal(image, services.GetProperty("worker").GetProperty("image").GetString());
        Assert.Equal(image, services.GetProperty("standalone").GetProperty("image").GetString());
        // The embedded default needs nothing else: no database, no dependency.
        Assert.False(services.GetProperty("standalone").TryGetProperty("depends_on", out _));
        Assert.False(services.GetProperty("standalone").GetProperty("environment").TryGetProperty("ConnectionStrings__Postgres", out _));

        // Prometheus and Grafana mount the folders the repository ships.
        var mounts = string.Join(' ', new[] { "prometheus", "grafana" }.SelectMany(s =>
            services.GetProperty(s).GetProperty("volumes").EnumerateArray().Select(v => v.ValueKind == JsonValueKind.String ? v.GetString() : v.GetProperty("source").GetString())));
        Assert.Contains(Path.Combine(Root, "deploy/prometheus"), mounts);
        Assert.Contains(Path.Combine(Root, "deploy/grafana/provisioning"), mounts);
        Assert.Contains(Path.Combine(Root, "deploy/grafana/dashboards"), mounts);
    }

    [Fact]
    public void Dockerfile_is_multi_stage_non_root_with_health_check_and_data_volume()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile"));
        var stages = Regex.Matches(dockerfile, @"^FROM\s+(\S+)(?:\s+AS\s+(\S+))?", RegexOptions.Multiline | RegexOptions.IgnoreCase);
        Assert.StartsWith("mcr.microsoft.com/dotnet/sdk:", stages[0].Groups[1].Value);
        // The last stage is what a plain `docker build` produces: the CPU image.
        Assert.Equal("runtime", stages[^1].Groups[2].Value);
        Assert.StartsWith("mcr.microsoft.com/dotnet/aspnet:", stages[^1].Groups[1].Value);
        Assert.Contains("libopenblas0", dockerfile);
        Assert.Matches(@"(?m)^COPY --from=build ", dockerfile);
        var user = Regex.Matches(dockerfile, @"(?m)^USER\s+(\S+)").Last().Groups[1].Value;
        Assert.NotEqual("root", user);
        Assert.NotEqual("0", user);
        Assert.Matches(@"(?m)^HEALTHCHECK .*\n?.*CMD .*?/health/live", dockerfile);
        Assert.Matches(@"(?m)^VOLUME \[""/data""\]", dockerfile);
        Assert.Matches(@"FlowService__DataPath=/data", dockerfile);

        // Every path the build stage copies from the build context exists, so the file tracks the repository's layout.
        foreach (Match copy in Regex.Matches(dockerfile, @"(?m)^COPY (?!--from)(.+)$"))
        {
            var parts = copy.Groups[1].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            foreach (var source in parts[..^1])
            {
                var path = Path.Combine(Root, source);
                Assert.True(File.Exists(path) || Directory.Exists(path), $"Dockerfile copies {source}, which is not in the repository");
            }
        }
    }

    [Fact]
    public void Dockerfile_has_a_cuda_worker_target_with_the_libraries_the_backend_loads()
    {
        var dockerfile = File.ReadAllText(Path.Combine(Root, "Dockerfile"));
        var start = Regex.Match(dockerfile, @"(?m)^FROM\s+(\S+)\s+AS\s+gpu-worker\s*$");
        Assert.True(start.Success, "no gpu-worker stage");
        Assert.Matches(@"^nvidia/cuda:13\.[0-9.]+-runtime-", start.Groups[1].Value);
        var stage = dockerfile[start.Index..];
        stage = stage[..Regex.Match(stage[1..], @"(?m)^FROM ").Index];
        // cuBLAS is in the runtime image; NVRTC is installed; libcuda is the node's (never copied in).
        Assert.Contains("cuda-nvrtc-13-0", stage);
        Assert.DoesNotContain("libcuda", stage);
        Assert.Matches(@"(?m)^COPY --from=build /app ", stage);
        Assert.Matches(@"(?m)^COPY --from=dotnet-runtime /usr/share/dotnet ", stage);
        Assert.Matches(@"(?m)^USER 1654$", stage); // the UID k8s/base runs as
        Assert.Contains("FlowService__Role=worker", stage);
        Assert.Matches(@"FlowService__Compute__Device=(auto|cuda)", stage);
        Assert.Matches(@"(?m)^ENTRYPOINT \[""dotnet"", ""FlowService.Api.dll""\]", stage);
    }

    [Fact]
    public void Grafana_dashboard_uses_the_provisioned_datasource_and_has_the_required_panels()
    {
        using var dashboard = JsonDocument.Parse(File.ReadAllText(Path.Combine(Root, "deploy/grafana/dashboards/flowservice.json")));
        var datasource = File.ReadAllText(Path.Combine(Root, "deploy/grafana/provisioning/datasources/prometheus.yml"));
        var uid = Regex.Match(datasource, @"uid:\s*(\S+)").Groups[1].Value;
        Assert.Contains("path: /var/lib/grafana/dashboards", File.ReadAllText(Path.Combine(Root, "deploy/grafana/provisioning/dashboards/flowservice.yml")));

        var panels = dashboard.RootElement.GetProperty("panels").EnumerateArray().Where(p => p.GetProperty("type").GetString() != "row").ToList();
        Assert.Equal(panels.Count, panels.Select(p => p.GetProperty("id").GetInt32()).Distinct().Count());
        foreach (var panel in panels)
        {
            Assert.Equal(uid, panel.GetProperty("datasource").GetProperty("uid").GetString());
            Assert.NotEmpty(panel.GetProperty("targets").EnumerateArray());
        }
        var titles = panels.Select(p => p.GetProperty("title").GetString()!).ToList();
        foreach (var required in new[] { "Request rate", "Error rate", "Latency p50 / p95 / p99", "Rows scored per second", "Anomaly rate", "Batch sizes",
                     "Training jobs by state", "Training loss curves", "CPU", "Memory" })
        {
            Assert.Contains(titles, t => t.StartsWith(required, StringComparison.Ordinal));
        }
    }
}
