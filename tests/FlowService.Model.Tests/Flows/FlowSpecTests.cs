using FlowService.Model.Flows;

namespace FlowService.Model.Tests.Flows;

/// <summary>Specs that are wrong are rejected with a <see cref="FlowSpecException"/> naming the offending field.</summary>
public sealed class FlowSpecTests
{
    [Theory]
    [InlineData("""{"type":"realnvp","hidden":[128,0]}""", "hidden")]
    [InlineData("""{"type":"realnvp","layers":0}""", "layers")]
    [InlineData("""{"type":"realnvp","layers":"8"}""", "layers")]
    [InlineData("""{"type":"nice","activation":"sigmoid"}""", "activation")]
    [InlineData("""{"type":"glow","scaleClamp":-1}""", "scaleClamp")]
    [InlineData("""{"type":"realnvp","hiden":[64]}""", "hiden")]
    [InlineData("""{"type":"realnvp","contextFeatures":3}""", "contextFeatures")]
    [InlineData("""{"type":"flowy"}""", "type")]
    [InlineData("""{"layers":3}""", "type")]
    [InlineData("""[1,2]""", "flow")]
    [InlineData("""{"type":"nice",""", "flow")]
    public void Rejections_name_the_field(string json, string field)
    {
        var error = Assert.Throws<FlowSpecException>(() => NormalizingFlow.Create(json, features: 4, contextFeatures: 0, seed: 1));
        Assert.Equal(field, error.Field);
    }

    [Fact]
    public void Coupling_flows_need_two_features()
    {
        var error = Assert.Throws<FlowSpecException>(() => NormalizingFlow.Create("""{"type":"realnvp"}""", features: 1, contextFeatures: 0, seed: 1));
        Assert.Equal("features", error.Field);
    }

    [Theory]
    [InlineData("""{"type":"nice","layers":2,"hidden":[8]}""")]
    [InlineData("""{"type":"realnvp","layers":2,"hidden":[8],"activation":"tanh","scaleClamp":2,"contextFeatures":0}""")]
    [InlineData("""{"type":"glow","layers":2,"hidden":[8,8],"zeroInit":true}""")]
    public void Valid_specs_build(string json)
    {
        var flow = NormalizingFlow.Create(json, features: 4, contextFeatures: 0, seed: 1);
        Assert.True(flow.Layout.Length > 0);
    }
}
