using System.Globalization;
using FlowService.Api.Endpoints;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Payloads;

/// <summary>Which model a request means (name, and version or alias) and, for /score, the anomaly quantile.</summary>
public sealed record InferenceTarget(string? Model, int? Version, string? Alias, double? AnomalyQuantile)
{
    /// <summary>From the query string, for bodies that cannot carry them (CSV, .npy): <c>?model=&amp;version=&amp;alias=&amp;anomalyQuantile=</c>.</summary>
    public static ProblemHttpResult? FromQuery(IQueryCollection query, out InferenceTarget target)
    {
        target = new InferenceTarget(null, null, null, null);
        int? version = null;
        double? quantile = null;
        if (query.TryGetValue("version", out var versionText))
        {
            if (!int.TryParse(versionText, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
                return Problems.BadRequest($"'version' must be an integer version number; got '{versionText}'.", field: "version");
            version = v;
        }
        if (query.TryGetValue("anomalyQuantile", out var quantileText))
        {
            if (!double.TryParse(quantileText, NumberStyles.Float, CultureInfo.InvariantCulture, out double q))
                return Problems.BadRequest($"'anomalyQuantile' must be a number in (0, 1), e.g. 0.01; got '{quantileText}'.", field: "anomalyQuantile");
            quantile = q;
        }
        string? alias = query.TryGetValue("alias", out var a) ? a.ToString() : null;
        target = new InferenceTarget(query["model"], version, alias, quantile);
        return null;
    }
}
