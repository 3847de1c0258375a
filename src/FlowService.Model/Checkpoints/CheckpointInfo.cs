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
    /// <summary>The newest format this build reads and writes: 2 adds <see cref="Members"/>.</summary>
    public const int CurrentFormatVersion = 2;

    /// <summary>The format of a single flow's checkpoint, which builds that predate <see cref="Members"/> read as well.</summary>
    public const int SingleFlowFormatVersion = 1;

    [JsonPropertyName("formatVersion")]
    public int FormatVersion { get; set; } = SingleFlowFormatVersion;

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

    /// <summary>
    /// For a committee of equally weighted flows of the same spec (the fold models of a cross-validated "auto" search), how
    /// many: their weights are the tensors prefixed <c>members.{m}.</c>, m = 0 .. Members - 1, and such a checkpoint has
    /// format version <see cref="CurrentFormatVersion"/>, so that a build which would read only one of them refuses it. Absent
    /// (null) for a single flow, whose tensors carry no prefix.
    /// </summary>
    [JsonPropertyName("members")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? Members { get; set; }

    [JsonPropertyName("metadata")]
    public JsonObject Metadata { get; set; } = new();
}
