namespace FlowService.Bench;

/// <summary>
/// One benchmarked architecture: a flow spec for the engine and the name bench/torch_bench.py
/// gives the same architecture (tools/reference/flows.py modules: same layers, hidden sizes,
/// halves, reversals, bins and tail bound), so run_flows.sh can pair the figures.
/// </summary>
internal sealed record FlowShape(string Name, int Features, string SpecJson)
{
    /// <summary>The architectures of issue 2's speed goals, in torch_bench.py's order.</summary>
    public static readonly FlowShape[] All =
    {
        // RealNVP: affine couplings over alternating halves (Coupling.Halves = torch_bench's halves()), scale clamp 3.
        new("realnvp_d8", 8, """{"type":"realnvp","layers":8,"hidden":[64,64],"activation":"relu","scaleClamp":3}"""),
        new("realnvp_d16", 16, """{"type":"realnvp","layers":8,"hidden":[128,128],"activation":"relu","scaleClamp":3}"""),
        new("realnvp_d64", 64, """{"type":"realnvp","layers":10,"hidden":[256,256],"activation":"relu","scaleClamp":3}"""),
        // MAF: 8 MADE affine layers with a reversal before every layer but the first (torch_bench's maf_flow).
        new("maf_d16", 16, """{"type":"maf","layers":8,"hidden":[128,128],"activation":"relu","scaleClamp":3,"permutation":"reverse"}"""),
        // NSF: 8 spline couplings over alternating halves, 8 bins on [-5, 5].
        new("nsf_d16", 16, """{"type":"nsf","layers":8,"hidden":[128,128],"activation":"relu","bins":8,"tailBound":5,"variant":"coupling"}"""),
        // Flow++: 8 logistic-mixture CDF couplings (4 components) over alternating halves (issue 15).
        new("flowpp_d16", 16, """{"type":"flowpp","layers":8,"hidden":[128,128],"activation":"relu","components":4,"scaleClamp":3}"""),
        // RealNVP with the gated self-attention conditioner (embedding 16, 2 heads) before the [128, 128] head (issue 15).
        new("realnvp_attention_d16", 16, """{"type":"realnvp","layers":8,"hidden":[128,128],"activation":"relu","scaleClamp":3,"conditioner":"attention","heads":2,"embedding":16}"""),
    };

    /// <summary>The image architecture of issue 13 (bench/torch_images.py's defaults), for <c>flow-profile --images</c>.</summary>
    public static readonly FlowShape[] Images =
    {
        new("realnvp_fmnist", 784, """{"type":"realnvp","image":[1,28,28],"levels":2,"steps":2,"channels":32,"blocks":1}"""),
    };
}
