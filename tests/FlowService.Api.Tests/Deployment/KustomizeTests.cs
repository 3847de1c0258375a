using System.Text.Json;
using FlowService.Api.Tests.Observability;

namespace FlowService.Api.Tests.Deployment;

/// <summary>
/// Renders k8s/ and k8s/gpu/ with kubectl's built-in kustomize and checks every rendered object: probes on
/// /health/*, resource requests and limits, selectors that match their pod labels, the references between
/// objects (Service, HPA, PDB, PVC, ConfigMap, Secret), scrape annotations and the GPU request.
/// </summary>
public sealed class KustomizeTests
{
    private static readonly string Root = ExternalTool.RepositoryRoot();

    private static async Task<JsonElement[]> RenderAsync(string folder)
    {
        var (code, stdout, stderr) = await ExternalTool.RunAsync("kubectl", ["kustomize", folder], workingDirectory: Root);
        Assert.True(code == 0, $"kubectl kustomize {folder}: {stderr}");
        return await ExternalTool.YamlDocumentsAsync(stdout);
    }

    private static string Kind(JsonElement o) => o.GetProperty("kind").GetString()!;

    private static string Name(JsonElement o) => o.GetProperty("metadata").GetProperty("name").GetString()!;

    private static Dictionary<string, string> Map(JsonElement o) =>
        o.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);

    private static bool Matches(Dictionary<string, string> selector, Dictionary<string, string> labels) =>
        selector.Count > 0 && selector.All(s => labels.TryGetValue(s.Key, out var v) && v == s.Value);

    [RequiresToolFact("kubectl", ExternalTool.PythonYaml)]
    public async Task Base_renders_consistent_objects_with_probes_resources_and_matching_selectors()
    {
        var objects = await RenderAsync("k8s");
        var kinds = objects.Select(Kind).ToList();
        foreach (var kind in new[] { "Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget" })
        {
            Assert.Contains(kind, kinds);
        }
        var deployments = objects.Where(o => Kind(o) == "Deployment").ToDictionary(Name);
        Assert.Equal(["flowservice-api", "flowservice-worker"], deployments.Keys.Order().ToArray());
        var names = objects.Select(o => (Kind(o), Name(o))).ToHashSet();
        foreach (var o in objects.Where(o => Kind(o) != "Namespace"))
        {
            Assert.Equal("flowservice", o.GetProperty("metadata").GetProperty("namespace").GetString());
        }

        foreach (var (name, deployment) in deployments)
        {
            var spec = deployment.GetProperty("spec");
            var template = spec.GetProperty("template");
            var podLabels = Map(template.GetProperty("metadata").GetProperty("labels"));
            Assert.True(Matches(Map(spec.GetProperty("selector").GetProperty("matchLabels")), podLabels), $"{name}: selector does not match pod labels");
            var annotations = Map(template.GetProperty("metadata").GetProperty("annotations"));
            Assert.Equal("true", annotations["prometheus.io/scrape"]);
            Assert.Equal("/metrics", annotations["prometheus.io/path"]);
            var podSpec = template.GetProperty("spec");
            Assert.True(podSpec.GetProperty("securityContext").GetProperty("runAsNonRoot").GetBoolean());

            var container = Assert.Single(podSpec.GetProperty("containers").EnumerateArray());
            var ports = container.GetProperty("ports").EnumerateArray().ToDictionary(p => p.GetProperty("name").GetString()!, p => p.GetProperty("containerPort").GetInt32());
            Assert.Equal(annotations["prometheus.io/port"], ports["http"].ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (var (probe, path) in new[] { ("readinessProbe", "/health/ready"), ("livenessProbe", "/health/live") })
            {
                var http = container.GetProperty(probe).GetProperty("httpGet");
                Assert.Equal(path, http.GetProperty("path").GetString());
                Assert.True(ports.ContainsKey(http.GetProperty("port").GetString()!), $"{name}: {probe} names a port the container lacks");
            }
            var resources = container.GetProperty("resources");
            foreach (var section in new[] { "requests", "limits" })
            {
                foreach (var resource in new[] { "cpu", "memory" })
                {
                    Assert.True(resources.GetProperty(section).TryGetProperty(resource, out _), $"{name}: no {section}.{resource}");
                }
            }
            var role = container.GetProperty("env").EnumerateArray().Single(e => e.GetProperty("name").GetString() == "FlowService__Role").GetProperty("value").GetString();
            Assert.Equal(name["flowservice-".Length..], role);
            foreach (var source in container.GetProperty("envFrom").EnumerateArray())
            {
                if (source.TryGetProperty("configMapRef", out var cm)) Assert.Contains(("ConfigMap", cm.GetProperty("name").GetString()!), names);
                if (source.TryGetProperty("secretRef", out var secret)) Assert.Contains(("Secret", secret.GetProperty("name").GetString()!), names);
            }
            var claim = podSpec.GetProperty("volumes").EnumerateArray().Single(v => v.TryGetProperty("persistentVolumeClaim", out _))
                .GetProperty("persistentVolumeClaim").GetProperty("claimName").GetString()!;
            Assert.Contains(("PersistentVolumeClaim", claim), names);
            Assert.Contains(container.GetProperty("volumeMounts").EnumerateArray(), m => m.GetProperty("mountPath").GetString() == "/data");
        }

        var apiLabels = Map(deployments["flowservice-api"].GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("labels"));
        var workerLabels = Map(deployments["flowservice-worker"].GetProperty("spec").GetProperty("template").GetProperty("metadata").GetProperty("labels"));
        var service = objects.Single(o => Kind(o) == "Service");
        var serviceSelector = Map(service.GetProperty("spec").GetProperty("selector"));
        Assert.True(Matches(serviceSelector, apiLabels), "the Service does not select the API pods");
        Assert.False(Matches(serviceSelector, workerLabels), "the Service would send traffic to workers");
        Assert.Equal("http", service.GetProperty("spec").GetProperty("ports")[0].GetProperty("targetPort").GetString());
        var hpaTarget = objects.Single(o => Kind(o) == "HorizontalPodAutoscaler").GetProperty("spec").GetProperty("scaleTargetRef");
        Assert.Equal(("Deployment", "flowservice-api"), (hpaTarget.GetProperty("kind").GetString(), hpaTarget.GetProperty("name").GetString()));
        var pdbSelector = Map(objects.Single(o => Kind(o) == "PodDisruptionBudget").GetProperty("spec").GetProperty("selector").GetProperty("matchLabels"));
        Assert.True(Matches(pdbSelector, apiLabels) && !Matches(pdbSelector, workerLabels));
        Assert.DoesNotContain(objects, o => o.ToString().Contains("nvidia.com/gpu", StringComparison.Ordinal));
    }

    [RequiresToolFact("kubectl", ExternalTool.PythonYaml)]
    public async Task Gpu_variant_requests_one_gpu_per_worker_and_leaves_the_api_alone()
    {
        var objects = await RenderAsync("k8s/gpu");
        JsonElement Container(string deployment) => objects.Single(o => Kind(o) == "Deployment" && Name(o) == deployment)
            .GetProperty("spec").GetProperty("template").GetProperty("spec").GetProperty("containers")[0];

        var worker = Container("flowservice-worker").GetProperty("resources");
        Assert.Equal("1", worker.GetProperty("requests").GetProperty("nvidia.com/gpu").GetString());
        Assert.Equal("1", worker.GetProperty("limits").GetProperty("nvidia.com/gpu").GetString());
        // The strategic merge keeps the base's probes and mounts on the patched container.
        Assert.Equal("/health/ready", Container("flowservice-worker").GetProperty("readinessProbe").GetProperty("httpGet").GetProperty("path").GetString());
        Assert.False(Container("flowservice-api").GetProperty("resources").GetProperty("limits").TryGetProperty("nvidia.com/gpu", out _));
        // Workers run the CUDA image and choose the device at start; the API keeps the CPU image.
        Assert.Equal("flowservice-gpu:latest", Container("flowservice-worker").GetProperty("image").GetString());
        Assert.Equal("flowservice:latest", Container("flowservice-api").GetProperty("image").GetString());
        var env = Container("flowservice-worker").GetProperty("env").EnumerateArray().ToDictionary(e => e.GetProperty("name").GetString()!, e => e.GetProperty("value").GetString());
        Assert.Equal("auto", env["FlowService__Compute__Device"]);
        Assert.Equal("worker", env["FlowService__Role"]);
        Assert.Equal(objects.Length, (await RenderAsync("k8s")).Length);
    }
}
