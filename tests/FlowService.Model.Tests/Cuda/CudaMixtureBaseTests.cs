using FlowService.Model.Compute;
using FlowService.Model.Flows;

namespace FlowService.Model.Tests.Cuda;

/// <summary>
/// A flow with a Gaussian-mixture base on CUDA against the CPU: the mixture runs on the host over copies there,
/// so the training step (NLL and every parameter gradient, the base's included), log p and samples must agree.
/// </summary>
public sealed class CudaMixtureBaseTests
{
    private const int Rows = 37, D = 4;

    [CudaFact]
    public void Training_step_log_density_and_samples_match_the_cpu()
    {
        const string spec = """{"type":"maf","layers":2,"hidden":[8],"base":{"components":3}}""";
        var random = new Random(3);
        float[] x = ParityAssert.Random(random, Rows * D, 1.5f);
        var cpu = NormalizingFlow.Create(spec, D, 0, seed: 5);
        cpu.InitializeFromData(x, Rows, []);
        var cuda = NormalizingFlow.Create(spec, D, 0, seed: 5, backend: CudaTestDevice.Backend);
        cuda.SetParameters(cpu.GetParameters());

        var results = new List<float[]>();
        double[] nll = new double[2];
        NormalizingFlow[] flows = [cpu, cuda];
        for (int which = 0; which < 2; which++)
        {
            var flow = flows[which];
            IBackend b = flow.Backend;
            var tx = b.Allocate(Rows, D);
            b.Upload(x, tx);
            var gradients = flow.AllocateGradients();
            nll[which] = flow.AccumulateGradients(flow.CreateTrainingContext(gradients), tx, null, 1f / Rows);
            var logProb = new float[Rows];
            flow.LogProb(x, Rows, [], logProb);
            var samples = new float[Rows * D];
            flow.Sample(Rows, seed: 9, temperature: 0.7f, [], samples);
            results.Add(CudaCoreOpsTests.DownloadAll(b, gradients)[..flow.Layout.Length]);
            results.Add(logProb);
            results.Add(samples);
        }
        Assert.True(Math.Abs(nll[0] - nll[1]) <= 1e-4 * (1 + Math.Abs(nll[0])), $"NLL: cpu {nll[0]}, cuda {nll[1]}");
        string[] what = ["parameter gradients", "log p", "samples"];
        for (int i = 0; i < what.Length; i++)
            ParityAssert.Close(results[i], results[i + 3], 2e-4, $"mixture base {what[i]}");
    }
}
