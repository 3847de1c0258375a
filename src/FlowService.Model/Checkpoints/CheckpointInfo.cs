using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace FlowService.Model.Checkpoints;

/// <summary>
/// The JSON half of a model checkpoint (<c>model.json</c>): what the weights belong to and how to
/// rebuild the model around them. <see cref="Metadata"/> is open: the service stores calibration
/// quantiles, metrics and lineage there.
/// </summary>
public sealed class CheckpointInfo
{
    public const int CurrentFormatVersion = 1;

    [JsonPropertyName("formatVersion")]
    public int FormatVersion { get; set; } = CurrentFormatVersion;

    /// <summary>The flow spec (the <c>FlowSpec</c> JSON) the model is built from.</summary>
    [JsonPropertyName("spec")]
    public JsonNode? Spec { get; set; }

    /// <summary>The seed the flow was built from; with the spec it fixes the structure (random permutations).</summary>
    [JsonPropertyName("seed")]
    public int Seed { get; set; }

    [JsonPropertyName("features")]
    public int Features { get; set; }

    [JsonPropertyName("contextFeatures")]
    public int ContextFeatures { get; set; }

    [JsonPropertyName("columnNames")]
    public string[] ColumnNames { get; set; } = [];

    [JsonPropertyName("contextColumnNames")]
    public string[] ContextColumnNames { get; set; } = [];

    /// <summary>Per-column mean of the training data (the fixed standardization), or null when the model has none.</summary>
    [JsonPropertyName("normalizationMean")]
    public float[]? NormalizationMean { get; set; }

    [JsonPropertyName("normalizationStd")]
    public float[]? NormalizationStd { get; set; }

    /// <summary>The Gaussian mixed into the served density, or null for the flow alone.</summary>
    [JsonPropertyName("defensiveMixture")]
    public DefensiveMixtureInfo? DefensiveMixture { get; set; }

    /// <summary>sha256 (lower-case hex) of <c>model.safetensors</c>; set by <see cref="Checkpoint.Save"/>.</summary>
    [JsonPropertyName("weightsSha256")]
    public string? WeightsSha256 { get; set; }

    /// <summary>True for a flow fitted by reverse KL, whose chain maps latent → data (<c>NormalizingFlow.Generative</c>); absent means false.</summary>
    [JsonPropertyName("generative")]
    public bool Generative { get; set; }

    [JsonPropertyName("metadata")]
    public JsonObject Metadata { get; set; } = new();
}
