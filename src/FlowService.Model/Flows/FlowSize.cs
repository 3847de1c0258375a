namespace FlowService.Model.Flows;

/// <summary>
/// A flow's size worked out from its spec alone, before anything is allocated: <see cref="Parameters"/> (float32
/// values), <see cref="FixedBytes"/> (memory that is not a parameter but lives as long as the flow: MADE masks) and
/// <see cref="ActivationFloatsPerRow"/> (values a training step keeps per batch row: layer outputs for the backward
/// pass and their gradients, counted generously so the estimate errs on the large side).
/// </summary>
public readonly record struct FlowSize(long Parameters, long FixedBytes, long ActivationFloatsPerRow)
{
    public static FlowSize operator +(FlowSize a, FlowSize b) =>
        new(a.Parameters + b.Parameters, a.FixedBytes + b.FixedBytes, a.ActivationFloatsPerRow + b.ActivationFloatsPerRow);

    public static FlowSize operator *(long times, FlowSize size) =>
        new(times * size.Parameters, times * size.FixedBytes, times * size.ActivationFloatsPerRow);

    /// <summary>A dense MLP inputs → hidden… → outputs (weight [out, in] and bias per layer).</summary>
    public static FlowSize Mlp(int inputs, IReadOnlyList<int> hidden, int outputs)
    {
        long parameters = 0, activations = inputs;
        long previous = inputs;
        foreach (long width in hidden.Append(outputs))
        {
            parameters += previous * width + width;
            // The layer's output (cached for backward) and its gradient.
            activations += 2 * width;
            previous = width;
        }
        return new FlowSize(parameters, 0, activations);
    }

    /// <summary>A MADE: an MLP whose weights carry a float mask of the same shape.</summary>
    public static FlowSize Made(int features, int contextFeatures, IReadOnlyList<int> hidden, int valuesPerFeature)
    {
        var mlp = Mlp(features + contextFeatures, hidden, features * valuesPerFeature);
        long weights = 0, previous = features + contextFeatures;
        foreach (long width in hidden.Append(features * valuesPerFeature))
        {
            weights += previous * width;
            previous = width;
        }
        return mlp with { FixedBytes = 4 * weights };
    }

    /// <summary>An element-wise or structural transform of <paramref name="features"/> with <paramref name="parameters"/> values: input, output, log|det| and gradients per row.</summary>
    public static FlowSize Transform(int features, long parameters = 0) => new(parameters, 0, 4L * features + 1);

    /// <summary>The size of a built transform: its declared parameters, and input, output and gradients per row (for recipes whose arithmetic estimate does not cover a variant).</summary>
    public static FlowSize Built(Transforms.ITransform transform, int features)
    {
        var layout = new Parameters.ParameterLayout();
        transform.DeclareParameters(layout.Scope(""));
        return new FlowSize(layout.Length, 0, 8L * features);
    }
}
