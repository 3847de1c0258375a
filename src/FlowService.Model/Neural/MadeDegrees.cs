namespace FlowService.Model.Neural;

/// <summary>
/// The degree assignment and connectivity masks of MADE (Germain et al. 2015, "MADE: Masked
/// Autoencoder for Distribution Estimation"), fixed and deterministic so that a checkpoint's
/// masks are rebuilt from the spec alone.
/// </summary>
/// <remarks>
/// Input feature i (0-based, in the layer's own feature order) has degree i + 1; context
/// features have degree 0, so they reach every hidden unit. Without context, hidden unit h of
/// every hidden layer has degree 1 + h mod max(1, D - 1): degrees cycle through 1..D-1, as in
/// nflows, so every degree is present whenever a layer has at least D - 1 units. With context,
/// degrees cycle through 0..D-1 instead: units of degree 0 see only the context, which is how the
/// first feature's parameters come to depend on it (zuko's masked MLP connects them the same
/// way; with nflows' degrees they would be constants). A hidden unit of degree d sees units of
/// degree ≤ d; an output for feature i (degree i + 1) sees only units of degree &lt; i + 1. Hence
/// output i depends on features 0..i-1 (and the context) only: the Jacobian of the outputs with
/// respect to the inputs is strictly lower-triangular in feature order.
/// </remarks>
public static class MadeDegrees
{
    /// <summary>Degrees 1..D of the D data inputs, then 0 for each context input (context columns last).</summary>
    public static int[] Inputs(int features, int contextFeatures)
    {
        var degrees = new int[features + contextFeatures];
        for (int i = 0; i < features; i++)
            degrees[i] = i + 1;
        return degrees;
    }

    /// <summary>Degrees of a hidden layer of <paramref name="units"/> units.</summary>
    public static int[] Hidden(int features, int units, bool hasContext)
    {
        int offset = hasContext ? 0 : Math.Min(1, features - 1);
        int cycle = hasContext ? features : Math.Max(1, features - 1);
        var degrees = new int[units];
        for (int h = 0; h < units; h++)
            degrees[h] = h % cycle + offset;
        return degrees;
    }

    /// <summary>
    /// Degrees of the output layer, grouped by parameter kind: for each kind b with
    /// <c>perFeature[b]</c> values per feature, D·perFeature[b] outputs laid out feature-major;
    /// every output of feature i has degree i + 1.
    /// </summary>
    public static int[] Outputs(int features, IReadOnlyList<int> perFeature)
    {
        var degrees = new List<int>();
        foreach (int count in perFeature)
            for (int i = 0; i < features; i++)
                for (int c = 0; c < count; c++)
                    degrees.Add(i + 1);
        return degrees.ToArray();
    }

    /// <summary>
    /// The [out, in] 0/1 mask of a layer: 1 where output o may see input j, i.e.
    /// deg(o) ≥ deg(j) for hidden layers and deg(o) > deg(j) (strict) for the output layer.
    /// </summary>
    public static float[] Mask(int[] outputDegrees, int[] inputDegrees, bool strict)
    {
        var mask = new float[outputDegrees.Length * inputDegrees.Length];
        for (int o = 0; o < outputDegrees.Length; o++)
            for (int j = 0; j < inputDegrees.Length; j++)
                mask[o * inputDegrees.Length + j] = (strict ? outputDegrees[o] > inputDegrees[j] : outputDegrees[o] >= inputDegrees[j]) ? 1f : 0f;
        return mask;
    }
}
