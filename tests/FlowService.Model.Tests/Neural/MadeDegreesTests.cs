using FlowService.Model.Neural;

namespace FlowService.Model.Tests.Neural;

/// <summary>The masks' connectivity: the paths through all layers give exactly the autoregressive structure.</summary>
public sealed class MadeDegreesTests
{
    [Theory]
    [InlineData(1, 0, new[] { 8 })]
    [InlineData(2, 0, new[] { 4 })]
    [InlineData(5, 0, new[] { 16, 16 })]
    [InlineData(5, 3, new[] { 8, 5, 12 })]
    [InlineData(5, 3, new[] { 8, 3, 12 })]
    [InlineData(6, 0, new[] { 2, 9 })]
    [InlineData(6, 2, new int[0])]
    [InlineData(1, 2, new[] { 3 })]
    [InlineData(4, 1, new[] { 4, 4 })]
    public void Output_i_is_reachable_only_from_inputs_before_i_and_from_all_of_them_when_layers_are_wide_enough(int features, int context, int[] hidden)
    {
        // Every degree has a unit when each layer has D - 1 units (D with context: degree 0 too).
        bool wideEnough = hidden.All(units => units >= (context > 0 ? features : features - 1));
        int[] perFeature = { 2, 1 };
        var reach = Reachability(features, context, hidden, perFeature);
        int[] outputDegrees = MadeDegrees.Outputs(features, perFeature);
        Assert.Equal(3 * features, outputDegrees.Length);
        for (int o = 0; o < outputDegrees.Length; o++)
        {
            int feature = outputDegrees[o] - 1;
            for (int j = 0; j < features; j++)
            {
                Assert.False(reach[o, j] && j >= feature, $"output {o} (feature {feature}) sees input {j}");
                Assert.True(reach[o, j] || j >= feature || !wideEnough, $"output {o} (feature {feature}) misses input {j}");
            }
            for (int c = 0; c < context; c++)
                Assert.True(reach[o, features + c], $"output {o} does not see context {c}");
        }
    }

    [Fact]
    public void Outputs_are_grouped_by_kind_then_feature_then_value()
    {
        // Spline-like groups for D = 2, K = 3: widths 2·3 | heights 2·3 | derivatives 2·2.
        Assert.Equal(new[] { 1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 1, 1, 2, 2 }, MadeDegrees.Outputs(2, new[] { 3, 3, 2 }));
    }

    [Fact]
    public void Hidden_degrees_cycle_through_one_to_D_minus_one_or_zero_to_D_minus_one_with_context()
    {
        Assert.Equal(new[] { 1, 2, 3, 1, 2, 3, 1 }, MadeDegrees.Hidden(4, 7, hasContext: false));
        Assert.Equal(new[] { 0, 0, 0 }, MadeDegrees.Hidden(1, 3, hasContext: false));
        // With context, degree 0 units carry the context to the first feature's outputs.
        Assert.Equal(new[] { 0, 1, 2, 3, 0, 1, 2 }, MadeDegrees.Hidden(4, 7, hasContext: true));
        Assert.Equal(new[] { 1, 2, 3, 0, 0 }, MadeDegrees.Inputs(3, 2));
    }

    /// <summary>reach[o, j]: some path of nonzero mask entries leads from input j to output o.</summary>
    private static bool[,] Reachability(int features, int context, int[] hidden, int[] perFeature)
    {
        int[] previous = MadeDegrees.Inputs(features, context);
        int inputs = previous.Length;
        // reach of the current layer's units from each network input, starting with the identity.
        var reach = new bool[inputs, inputs];
        for (int j = 0; j < inputs; j++)
            reach[j, j] = true;
        foreach (int units in hidden.Append(-1))
        {
            bool isOutput = units < 0;
            int[] degrees = isOutput ? MadeDegrees.Outputs(features, perFeature) : MadeDegrees.Hidden(features, units, context > 0);
            float[] mask = MadeDegrees.Mask(degrees, previous, strict: isOutput);
            var next = new bool[degrees.Length, inputs];
            for (int o = 0; o < degrees.Length; o++)
                for (int p = 0; p < previous.Length; p++)
                    if (mask[o * previous.Length + p] != 0f)
                        for (int j = 0; j < inputs; j++)
                            next[o, j] |= reach[p, j];
            reach = next;
            previous = degrees;
        }
        return reach;
    }
}
