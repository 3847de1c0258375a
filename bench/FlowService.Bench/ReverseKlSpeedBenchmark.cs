using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FlowService.Model.Flows;
using FlowService.Model.Parameters;
using FlowService.Model.Targets;
using FlowService.Training.Engine;
using FlowService.Training.Optimization;

namespace FlowService.Bench;

/// <summary>
/// The engine's side of bench/torch_reverse_kl_bench.py: reverse-KL training steps per second (x 512 samples) of a
/// generative RealNVP (8 affine couplings, hidden [64, 64], scale clamp 8) on Neal's funnel: fresh noise, x = T(z),
/// the target's log-density and gradient (the compiled expression), backward through T (<see cref="ReverseKlGradient"/>),
/// global-norm clipping at 5 and an Adam step, as <see cref="ReverseKlTrainer"/> does. One JSON object per line.
/// </summary>
internal static class ReverseKlSpeedBenchmark
{
    private const int Batch = 512;

    public static int Run(string[] args)
    {
        double seconds = 2;
        int[] dims = [2, 10];
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--seconds" && i + 1 < args.Length)
                seconds = double.Parse(args[++i], CultureInfo.InvariantCulture);
            else if (args[i] == "--dims" && i + 1 < args.Length)
                dims = args[++i].Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).ToArray();
            else
            {
                Console.Error.WriteLine($"reverse-kl-speed: unknown option {args[i]}; use --seconds S --dims 2,10");
                return 1;
            }
        }
        foreach (int d in dims)
        {
            var flow = NormalizingFlow.Create(FlowSpec.Parse("""{"type":"realnvp","layers":8,"hidden":[64,64],"scaleClamp":8}"""), d, 0, seed: 1, generative: true);
            var target = BuiltInTargets.Create("funnel", d, null);
            var gradient = new ReverseKlGradient(flow, target);
            var optimizer = new AdamW(flow.Backend, flow.Parameters.Length, new AdamWOptions());
            var random = new Random(1);
            var z = new float[Batch * d];
            var logWeights = new double[Batch];
            void Step()
            {
                for (int i = 0; i < z.Length; i++)
                    z[i] = ParameterInitializer.StandardNormal(random);
                gradient.Compute(z, Batch, logWeights);
                double norm = GradientClipping.GlobalNorm(flow.Backend, gradient.Gradient);
                optimizer.Update(flow.Parameters, gradient.Gradient, 1e-3, GradientClipping.Coefficient(norm, 5));
            }
            for (int i = 0; i < 3; i++)
                Step();
            int n = 0;
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                Step();
                n++;
            }
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                bench = $"reverse_kl_funnel_d{d}", metric = "reverse_kl_samples_per_s", value = Math.Round(n * Batch / watch.Elapsed.TotalSeconds, 1), impl = "flowservice",
            }));
        }
        return 0;
    }
}
