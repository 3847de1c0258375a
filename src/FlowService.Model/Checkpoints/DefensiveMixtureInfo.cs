using System.Text.Json.Serialization;

namespace FlowService.Model.Checkpoints;

/// <summary>
/// The defensive component of a served density, as <c>model.json</c> records it: p(x) = (1 - weight)
/// p_flow(x) + weight N(x; mean, L Lᵀ), in the data's units.
/// </summary>
public sealed class DefensiveMixtureInfo
{
    [JsonPropertyName("weight")]
    public double Weight { get; set; }

    [JsonPropertyName("mean")]
    public double[] Mean { get; set; } = [];

    /// <summary>The lower Cholesky factor of the covariance, row-major.</summary>
    [JsonPropertyName("cholesky")]
    public double[] Cholesky { get; set; } = [];
}
