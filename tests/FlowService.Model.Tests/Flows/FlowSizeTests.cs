using FlowService.Model.Flows;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Parameters;

namespace FlowService.Model.Tests.Flows;

/// <summary>
/// <see cref="FlowRecipes.Estimate"/> counts exactly the parameters the built flow declares, for every recipe and
/// shape, rejects what <see cref="FlowRecipes.Build"/> rejects (same field), and sizes a huge spec without allocating it.
/// </summary>
public class FlowSizeTests
{
    public static TheoryData<string, int, int> Specs() => new()
    {
        { """{"type":"realnvp"}""", 2, 0 },
        { """{"type":"realnvp","layers":3,"hidden":[7,5,3]}""", 5, 2 },
        { """{"type":"nice","layers":5,"hidden":[16]}""", 3, 0 },
        { """{"type":"nice","hidden":[]}""", 4, 1 },
        { """{"type":"glow","layers":2,"hidden":[9,9]}""", 5, 0 },
        { """{"type":"glow"}""", 3, 2 },
        { """{"type":"maf"}""", 1, 0 },
        { """{"type":"maf","layers":4,"hidden":[11,13],"permutation":"random"}""", 6, 3 },
        { """{"type":"nsf"}""", 4, 0 },
        { """{"type":"nsf","bins":5,"variant":"autoregressive","hidden":[10]}""", 3, 2 },
        { """{"type":"nsf","bins":3,"layers":3,"hidden":[6,6]}""", 7, 1 },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void The_estimate_counts_exactly_the_parameters_of_the_built_flow(string json, int features, int context)
    {
        var built = FlowRecipes.Build(FlowSpec.Parse(json), features, context, seed: 1);
        var layout = new ParameterLayout();
        built.DeclareParameters(layout.Scope(""));
        var size = FlowRecipes.Estimate(FlowSpec.Parse(json), features, context);
        // Parameters, not the arena length: the arena pads each slot to 16 floats.
        Assert.Equal(layout.Slots.Sum(s => (long)s.Rows * s.Cols), size.Parameters);
        Assert.True(size.ActivationFloatsPerRow >= 4L * features, $"{size}");
    }

    [Theory]
    [InlineData("""{"type":"realnvp","layers":0}""", 2, "layers")]
    [InlineData("""{"type":"realnvp"}""", 1, "features")]
    [InlineData("""{"type":"nsf","bins":1}""", 2, "bins")]
    [InlineData("""{"type":"nsf"}""", 1, "variant")]
    [InlineData("""{"type":"maf","hidden":[0]}""", 2, "hidden")]
    [InlineData("""{"type":"maf","permutaton":"random"}""", 2, "permutaton")]
    [InlineData("""{"type":"glow","scaleClamp":-1}""", 2, "scaleClamp")]
    [InlineData("""{"type":"flowxx"}""", 2, "type")]
    public void The_estimate_rejects_what_building_rejects_naming_the_same_field(string json, int features, string field)
    {
        var fromBuild = Assert.Throws<FlowSpecException>(() => FlowRecipes.Build(FlowSpec.Parse(json), features, 0, seed: 1));
        var fromEstimate = Assert.Throws<FlowSpecException>(() => FlowRecipes.Estimate(FlowSpec.Parse(json), features, 0));
        Assert.Equal(field, fromBuild.Field);
        Assert.Equal(fromBuild.Field, fromEstimate.Field);
    }

    [Fact]
    public void A_64_layer_maf_with_eight_4096_wide_hidden_layers_is_sized_without_allocating_it()
    {
        string json = """{"type":"maf","layers":64,"hidden":[4096,4096,4096,4096,4096,4096,4096,4096]}""";
        FlowRecipes.Estimate(FlowSpec.Parse(json), 8, 0);
        long before = GC.GetAllocatedBytesForCurrentThread();
        var size = FlowRecipes.Estimate(FlowSpec.Parse(json), 8, 0);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Per layer: 8->4096, seven 4096->4096, 4096->16, weights and biases.
        long perLayer = 8L * 4096 + 4096 + 7 * (4096L * 4096 + 4096) + 4096L * 16 + 16;
        Assert.Equal(64 * perLayer, size.Parameters);
        Assert.True(allocated < 100_000, $"{allocated} bytes allocated");
    }
}
