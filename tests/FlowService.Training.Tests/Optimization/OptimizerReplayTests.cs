using System.Text.Json;
using FlowService.Model.Checkpoints;
using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Flows;
using FlowService.Training.Optimization;

namespace FlowService.Training.Tests.Optimization;

/// <summary>
/// Replays the PyTorch fixtures' 20 Adam and AdamW steps (tools/reference/make_fixtures.py) with the
/// engine's flows and this optimizer: the loss before each step and after the last must stay within
/// max(1e-4, 5x PyTorch's own float32 deviation) of the float64 reference.
/// </summary>
public sealed class OptimizerReplayTests
{
    [Theory]
    [InlineData("realnvp", "adam.losses", 0.0)]
    [InlineData("realnvp", "adamw.losses", -1.0)]
    [InlineData("nsf", "adamw.losses", -1.0)]
    [InlineData("maf_conditional", "adam.losses", 0.0)]
    [InlineData("glow_conditional", "adamw.losses", -1.0)]
    [InlineData("flowpp", "adam.losses", 0.0)]
    [InlineData("flowpp_conditional", "adamw.losses", -1.0)]
    [InlineData("realnvp_attention_conditional", "adam.losses", 0.0)]
    public void Losses_follow_PyTorch(string fixture, string losses, double weightDecay)
    {
        var file = SafeTensorsReader.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", fixture + ".safetensors"));
        using var optimizer = JsonDocument.Parse(file.Metadata["optimizer"]);
        var o = optimizer.RootElement;
        double lr = o.GetProperty("lr").GetDouble();
        int steps = o.GetProperty("steps").GetInt32();
        if (weightDecay < 0)
            weightDecay = o.GetProperty("adamwWeightDecay").GetDouble();
        int features = int.Parse(file.Metadata["features"]), contextFeatures = int.Parse(file.Metadata["contextFeatures"]);
        int batch = int.Parse(file.Metadata["batch"]);
        double tolerance = Math.Max(1e-4, 5 * double.Parse(file.Metadata["float32Noise"], System.Globalization.CultureInfo.InvariantCulture));

        // The fixture's seed: it fixes Glow's LU permutations, which the generator draws as the engine does.
        var flow = NormalizingFlow.Create(FlowSpec.Parse(file.Metadata["spec"]), features, contextFeatures, seed: int.Parse(file.Metadata["seed"]));
        // The fixture's weights are the tensors named like parameters ("transforms.*"); the rest is the batch and the expected results.
        var weights = new SafeTensorsFile(file.Tensors.Values.Where(t => t.Name.StartsWith("transforms.", StringComparison.Ordinal)));
        flow.SetParameters(ParameterTensors.ToArena(flow.Layout, weights));
        float[] x = file["x"].Values;
        float[] context = contextFeatures > 0 ? file["context"].Values : [];
        float[] expected = file[losses].Values;

        var cpu = CpuBackend.Instance;
        Tensor parameters = cpu.Allocate(1, flow.Layout.Length), gradients = cpu.Allocate(1, flow.Layout.Length);
        cpu.Upload(flow.GetParameters(), parameters);
        var adam = new AdamW(cpu, flow.Layout.Length, new AdamWOptions
        {
            Beta1 = o.GetProperty("beta1").GetDouble(), Beta2 = o.GetProperty("beta2").GetDouble(),
            Epsilon = o.GetProperty("eps").GetDouble(), WeightDecay = weightDecay,
        });
        for (int step = 0; step <= steps; step++)
        {
            double loss = flow.LossAndGradient(x, batch, context, gradients.Span());
            Assert.True(Math.Abs(loss - expected[step]) <= tolerance * Math.Abs(expected[step]),
                $"{fixture} {losses} step {step}: {loss:R} vs PyTorch {expected[step]:R}");
            if (step == steps)
                break;
            adam.Update(parameters, gradients, lr);
            flow.SetParameters(parameters.Span());
        }
    }
}
