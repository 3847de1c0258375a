using FlowService.Model.Compute.Cpu;
using FlowService.Model.Flows;
using FlowService.Model.Flows.Recipes;
using FlowService.Model.Neural;
using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Images;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Tests.Transforms;

/// <summary>
/// Every transform and flow type, each one line: the theory in <see cref="TransformTheoryTests"/>
/// runs all its checks over this list. A case builds its transform for (features, context,
/// zeroInit); flow types come from their JSON spec through the recipe registry.
/// </summary>
public static class TransformCases
{
    public const int Features = 5;

    public static readonly IReadOnlyDictionary<string, Func<int, bool, ITransform>> All = new Dictionary<string, Func<int, bool, ITransform>>
    {
        ["permutation.reverse"] = (_, _) => Permutation.Reverse(Features),
        ["permutation.random"] = (_, _) => Permutation.Random(Features, new Random(3)),
        ["standardization"] = (_, _) => new Standardization(new[] { 0.5f, -1f, 2f, 0f, 3f }, new[] { 2f, 0.5f, 1.5f, 1f, 0.8f }),
        ["actnorm"] = (_, _) => new ActNorm(Features),
        ["diagonal.scaling"] = (_, _) => new DiagonalScaling(Features),
        ["lu.linear"] = (_, _) => new LuLinear(Features, new Random(4)),
        ["elementwise.spline"] = (_, _) => new ElementwiseSpline(Features, 5, 2.5f, initialNoise: 1f),
        ["whitening.linear"] = (_, _) => new WhiteningLinear(Features),
        ["coupling.additive"] = (c, z) => new Coupling(new[] { 4, 1 }, new[] { 0, 2, 3 }, c, new[] { 8 }, new AdditiveLeaf(), zeroInitialize: z),
        ["coupling.affine"] = (c, z) => new Coupling(new[] { 0, 2 }, new[] { 1, 3, 4 }, c, new[] { 8 }, new AffineLeaf(), zeroInitialize: z),
        ["coupling.spline"] = (c, z) => new Coupling(new[] { 3, 1 }, new[] { 0, 2, 4 }, c, new[] { 8 }, new RationalQuadraticSplineLeaf(4, 2.5f), zeroInitialize: z),
        ["coupling.logistic.mixture"] = (c, z) => new Coupling(new[] { 1, 4 }, new[] { 0, 2, 3 }, c, new[] { 8 }, new LogisticMixtureCdfLeaf(3), zeroInitialize: z),
        ["coupling.attention.affine"] = (c, z) => new Coupling(new[] { 0, 2, 4 }, new[] { 1, 3 }, c,
            new AttentionConditioner(3 + c, 4, 2, new[] { 8 }, 2 * 2, Model.Compute.Cpu.FusedActivation.Tanh), new AffineLeaf(), zeroInitialize: z),
        ["coupling.attention.logistic.mixture"] = (c, z) => new Coupling(new[] { 1, 4 }, new[] { 0, 2, 3 }, c,
            new AttentionConditioner(2 + c, 6, 3, new[] { 8 }, 3 * 8, Model.Compute.Cpu.FusedActivation.Relu), new LogisticMixtureCdfLeaf(2), zeroInitialize: z),
        ["autoregressive.logistic.mixture"] = (c, z) => new Autoregressive(Features, c, new[] { 10 }, new LogisticMixtureCdfLeaf(2), zeroInitialize: z),
        ["autoregressive.affine"] = (c, z) => new Autoregressive(Features, c, new[] { 10 }, new AffineLeaf(), zeroInitialize: z),
        ["autoregressive.spline"] = (c, z) => new Autoregressive(Features, c, new[] { 10, 7 }, new RationalQuadraticSplineLeaf(5, 2.5f), zeroInitialize: z),
        ["flow.maf"] = Flow("""{"type":"maf","layers":3,"hidden":[10]}"""),
        ["flow.maf.random.tanh"] = Flow("""{"type":"maf","layers":2,"hidden":[8,8],"permutation":"random","activation":"tanh","scaleClamp":2}"""),
        ["flow.realnvp"] = Flow("""{"type":"realnvp","layers":3,"hidden":[8,8],"activation":"elu"}"""),
        ["flow.nsf.coupling"] = Flow("""{"type":"nsf","layers":3,"hidden":[8],"bins":4,"tailBound":2.5}"""),
        ["flow.nsf.autoregressive"] = Flow("""{"type":"nsf","layers":2,"hidden":[10],"bins":4,"tailBound":2.5,"variant":"autoregressive","activation":"elu"}"""),
        ["flow.nice"] = Flow("""{"type":"nice","layers":3,"hidden":[8,8]}"""),
        ["flow.realnvp.tanh"] = Flow("""{"type":"realnvp","layers":2,"hidden":[8],"activation":"tanh","scaleClamp":2}"""),
        ["flow.flowpp"] = Flow("""{"type":"flowpp","layers":3,"hidden":[8],"components":4,"activation":"tanh"}"""),
        ["flow.realnvp.attention"] = Flow("""{"type":"realnvp","layers":2,"hidden":[8],"conditioner":"attention","heads":2,"embedding":4,"activation":"tanh"}"""),
        ["flow.glow"] = Flow("""{"type":"glow","layers":2,"hidden":[8]}"""),
        ["flow.maf.whiten"] = Flow("""{"type":"maf","layers":2,"hidden":[8],"whiten":true}"""),
        ["flow.realnvp.mixture.base"] = Flow("""{"type":"realnvp","layers":2,"hidden":[8],"base":{"components":3,"covariance":"diagonal"}}"""),
        ["flow.gaussian"] = (_, _) => FlowRecipes.Build(FlowSpec.Parse("""{"type":"gaussian"}"""), Features, 0, seed: 11),
        ["flow.gaussianization"] = (_, _) => FlowRecipes.Build(FlowSpec.Parse("""{"type":"gaussianization","layers":1,"bins":4,"tailBound":2.5}"""), Features, 0, seed: 11),
        ["image.coupling.checkerboard"] = (_, z) => new ImageCoupling(new ImageShape(2, 4, 4), CouplingMask.Checkerboard, false, new AffineLeaf(), 4, 1, z, FusedActivation.Elu),
        ["image.coupling.checkerboard.flipped.additive"] = (_, z) => new ImageCoupling(new ImageShape(1, 3, 4), CouplingMask.Checkerboard, true, new AdditiveLeaf(), 3, 2, z, FusedActivation.Tanh),
        ["image.coupling.channel"] = (_, z) => new ImageCoupling(new ImageShape(4, 2, 3), CouplingMask.Channel, false, new AffineLeaf(2f), 4, 0, z),
        ["image.coupling.channel.flipped.odd"] = (_, z) => new ImageCoupling(new ImageShape(3, 2, 2), CouplingMask.Channel, true, new AffineLeaf(), 5, 1, z, FusedActivation.Elu),
        ["image.actnorm"] = (_, _) => new ChannelActNorm(new ImageShape(3, 2, 2)),
        ["image.conv1x1"] = (_, _) => new InvertibleConv1x1(new ImageShape(3, 2, 2), new Random(5)),
        ["image.squeeze"] = (_, _) => ImagePermutations.Squeeze(new ImageShape(2, 4, 2)),
        ["image.split"] = (_, _) => ImagePermutations.Split(new ImageShape(3, 2, 2)),
        ["image.channels.last"] = (_, _) => ImagePermutations.ChannelsLast(new ImageShape(3, 2, 2)),
        // The theory's inputs lie in [-1.5, 1.5]: an affine map first takes them inside the logit's [0, 1] (pixels' [0, 256) for the flows).
        ["image.logit"] = (_, _) => IntoPixelRange(1f, new Logit(12, 0.05f)),
        ["image.flow.realnvp"] = ImageFlow("""{"type":"realnvp","image":[1,4,4],"levels":2,"steps":2,"channels":4,"blocks":1,"activation":"elu"}"""),
        ["image.flow.realnvp.additive"] = ImageFlow("""{"type":"realnvp","image":[2,4,2],"levels":2,"steps":1,"channels":3,"blocks":0,"coupling":"additive"}"""),
        ["image.flow.glow"] = ImageFlow("""{"type":"glow","image":[1,4,4],"levels":2,"steps":2,"channels":4,"blocks":1,"activation":"elu"}"""),
    };

    /// <summary>Every case with no context, and with 2 context features too when asked (image transforms are not conditional).</summary>
    public static IEnumerable<object[]> Names(bool withContext) =>
        All.Keys.SelectMany(name => withContext && !IsImage(name) ? new[] { new object[] { name, 0 }, new object[] { name, 2 } } : new[] { new object[] { name, 0 } });

    public static bool IsImage(string name) => name.StartsWith("image.", StringComparison.Ordinal);

    /// <summary>y = (x + 2) / 4 · range then <paramref name="inner"/>: the theory's [-1.5, 1.5] to [range/8, 7·range/8].</summary>
    private static ITransform IntoPixelRange(float range, ITransform inner) =>
        new Chain(new[]
        {
            new Standardization(Enumerable.Repeat(-2f, inner.Features).ToArray(), Enumerable.Repeat(4f / range, inner.Features).ToArray()),
            inner,
        });

    private static Func<int, bool, ITransform> ImageFlow(string json) => (_, zeroInit) =>
    {
        var spec = FlowSpec.Parse(zeroInit ? json : json.Replace("{", "{\"zeroInit\":false,", StringComparison.Ordinal));
        var image = System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("image").EnumerateArray().Aggregate(1, (p, e) => p * e.GetInt32());
        return IntoPixelRange(256f, FlowRecipes.Build(spec, image, 0, seed: 11));
    };

    private static Func<int, bool, ITransform> Flow(string json) => (context, zeroInit) =>
    {
        // Only the outer object: a nested "base" section has no zeroInit.
        var spec = zeroInit ? "{\"zeroInit\":true," + json[1..] : json;
        return FlowRecipes.Build(FlowSpec.Parse(spec), Features, context, seed: 11);
    };
}
