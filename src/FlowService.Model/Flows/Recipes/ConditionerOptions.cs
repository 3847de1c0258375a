using FlowService.Model.Neural;
using FlowService.Model.Transforms;

namespace FlowService.Model.Flows.Recipes;

/// <summary>
/// The coupling conditioner of the recipes that offer a choice (realnvp, flowpp): "conditioner" "mlp" (default) or
/// "attention" (<see cref="AttentionConditioner"/>: gated multi-head self-attention over the conditioning features, then
/// the MLP head of "hidden"), with "heads" (2, 1..16) and "embedding" (16, 2..256, a multiple of heads). Attention runs
/// on the CPU backend only.
/// </summary>
public sealed record ConditionerOptions(bool Attention, int Heads, int Embedding)
{
    public static ConditionerOptions Read(FlowSpec spec)
    {
        bool attention = spec.GetChoice("conditioner", "mlp", "mlp", "attention") == "attention";
        if (!attention)
            return new ConditionerOptions(false, 0, 0);
        int heads = spec.GetInt("heads", 2, 1, 16);
        int embedding = spec.GetInt("embedding", 16, 2, 256);
        if (embedding % heads != 0)
            throw new FlowSpecException("embedding", $"'embedding' ({embedding}) must be a multiple of 'heads' ({heads}).");
        return new ConditionerOptions(true, heads, embedding);
    }

    /// <summary>The coupling of (identity, transformed) with this conditioner and <paramref name="leaf"/>.</summary>
    public Coupling Coupling(int[] identity, int[] transformed, int contextFeatures, CommonOptions common, ICouplingLeaf leaf) => Attention
        ? new Coupling(identity, transformed, contextFeatures,
            new AttentionConditioner(identity.Length + contextFeatures, Embedding, Heads, common.Hidden, transformed.Length * leaf.ParametersPerFeatureByKind.Sum(), common.Activation),
            leaf, common.ZeroInit)
        : new Coupling(identity, transformed, contextFeatures, common.Hidden, leaf, common.Activation, common.ZeroInit);
}
