using System.Text;
using Prometheus;

namespace FlowService.Api.Tests.Observability;

/// <summary>A registry's exposition as the /metrics endpoint would serve it (Prometheus text format 0.0.4).</summary>
public static class RegistryText
{
    public static async Task<string> ScrapeAsync(CollectorRegistry registry)
    {
        using var stream = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(stream);
        return Encoding.UTF8.GetString(stream.ToArray());
    }
}
