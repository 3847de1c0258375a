using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Flows;

namespace FlowService.Model.Tests.Flows;

/// <summary>
/// An element-wise spline passes its one parameter row to a backend that shares it (<see cref="IBackend.SharesSplineParameters"/>,
/// the CPU backend) and repeats it for every row on one that does not (the CUDA backend). Both ways give a Gaussianization flow
/// the same bits: log p, codes, decodes and the training gradient, on the CPU backend against itself told to repeat the row.
/// </summary>
public sealed class SharedSplineParametersTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(37)]
    public void Sharing_the_parameter_row_changes_no_output_bit(int rows)
    {
        const string spec = """{"type":"gaussianization","layers":2,"bins":6}""";
        const int D = 5;
        var hidden = new CpuBackend { RepeatsSplineParameters = true };
        Assert.True(CpuBackend.Instance.SharesSplineParameters);
        Assert.False(hidden.SharesSplineParameters);
        var random = new Random(3);
        var sharing = NormalizingFlow.Create(spec, D, 0, seed: 4);
        var values = sharing.GetParameters().Select(_ => (float)(random.NextDouble() - 0.5) * 0.5f).ToArray();
        sharing.SetParameters(values);
        var repeating = NormalizingFlow.Create(spec, D, 0, seed: 4, backend: hidden);
        repeating.SetParameters(values);
        var x = Enumerable.Range(0, rows * D).Select(_ => (float)(random.NextDouble() * 8 - 4)).ToArray();   // some in the tails

        foreach (var output in new Func<NormalizingFlow, float[]>[]
        {
            f => { var p = new float[rows]; f.LogProb(x, rows, [], p); return p; },
            f => { var z = new float[rows * D]; var l = new float[rows]; f.Encode(x, rows, [], z, l); return [.. z, .. l]; },
            f => { var back = new float[rows * D]; f.Decode(x, rows, [], back); return back; },
            f => { var g = new float[values.Length]; float loss = (float)f.LossAndGradient(x, rows, [], g); return [loss, .. g]; },
        })
            Assert.Equal(output(repeating), output(sharing));
    }
}
