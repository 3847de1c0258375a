using System.Text.Json.Serialization;

namespace FlowService.Model.Checkpoints;

/// <summary>
/// The defensive component of a served density, as <c>model.json</c> records it: p(x) = (1 - weight) p_flow(x) +
/// weight q(x), in the data's units. <see cref="Kind"/> "gaussian" (also when absent, as checkpoints written before
/// image flows had one say nothing): q = N(x; mean, L Lᵀ). "uniform": q is uniform on [0, high)^D.
/// </summary>
public sealed class DefensiveMixtureInfo
{
    public const string GaussianKind = "gaussian";

    public const string UniformKind = "uniform";

    [JsonPropertyName("kind")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Kind { get; set; }

    [JsonPropertyName("weight")]
    public double Weight { get; set; }

    /// <summary>The Gaussian's mean (null for the uniform kind).</summary>
    [JsonPropertyName("mean")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double[]? Mean { get; set; }

    /// <summary>The lower Cholesky factor of the Gaussian's covariance, row-major (null for the uniform kind).</summary>
    [JsonPropertyName("cholesky")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double[]? Cholesky { get; set; }

    /// <summary>The upper edge of the uniform cube (its lower edge is 0).</summary>
    [JsonPropertyName("high")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? High { get; set; }
}
