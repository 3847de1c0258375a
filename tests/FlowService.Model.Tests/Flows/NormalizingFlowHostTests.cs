using FlowService.Model.Compute;
using FlowService.Model.Flows;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Flows;

/// <summary>
/// The host-level API: log p against the analytic density of a zero-initialised flow, round
/// trips in client units, seeded sampling, the shard training entry against finite differences
/// and against one unsplit batch, Glow's data-dependent initialisation and concurrent calls.
/// </summary>
public sealed class NormalizingFlowHostTests
{
    private const int D = 4;
    private const float Step = 2e-3f;

    public static TheoryData<string, int> Specs => new()
    {
        { """{"type":"nice","layers":3,"hidden":[8]}""", 0 },
        { """{"type":"realnvp","layers":3,"hidden":[8]}""", 0 },
        { """{"type":"realnvp","layers":2,"hidden":[8]}""", 2 },
        { """{"type":"glow","layers":2,"hidden":[8]}""", 0 },
        { """{"type":"glow","layers":2,"hidden":[8]}""", 2 },
        { """{"type":"maf","layers":2,"hidden":[8]}""", 2 },
        { """{"type":"nsf","layers":2,"hidden":[8],"bins":4}""", 0 },
        { """{"type":"maf","layers":2,"hidden":[8],"base":{"components":3}}""", 2 },
        { """{"type":"gaussianization","layers":1,"bins":4,"base":{"components":2,"covariance":"diagonal"}}""", 0 },
    };

    [Fact]
    public void A_zero_initialised_flow_is_the_standard_normal_of_the_standardized_input()
    {
        var data = Data(200, D, seed: 1);
        var normalization = Standardization.Fit(data, D);
        var flow = NormalizingFlow.Create("""{"type":"realnvp","layers":4,"hidden":[16],"zeroInit":true}""", D, 0, seed: 3, normalization);
        var logProb = new float[200];
        flow.LogProb(data, 200, ReadOnlySpan<float>.Empty, logProb);
        for (int r = 0; r < 200; r++)
        {
            double expected = 0;
            for (int j = 0; j < D; j++)
            {
                double u = (data[r * D + j] - normalization.Mean[j]) / (double)normalization.Std[j];
                expected += -0.5 * u * u - 0.5 * Math.Log(2 * Math.PI) - Math.Log(normalization.Std[j]);
            }
            Assert.True(Math.Abs(expected - logProb[r]) <= 1e-5 * (1 + Math.Abs(expected)), $"row {r}: analytic {expected}, flow {logProb[r]}");
        }
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Decode_undoes_encode_in_client_units(string spec, int context)
    {
        var data = Data(50, D, seed: 2);
        var flow = NormalizingFlow.Create(spec, D, context, seed: 5, Standardization.Fit(data, D));
        var condition = Data(50, context, seed: 4);
        var z = new float[data.Length];
        flow.Encode(data, 50, condition, z, new float[50]);
        var back = new float[data.Length];
        flow.Decode(z, 50, condition, back);
        for (int i = 0; i < data.Length; i++)
            Assert.True(Math.Abs(back[i] - data[i]) <= 1e-4 * (1 + Math.Abs(data[i])), $"{spec}: element {i}: {data[i]} → {back[i]}");
    }

    [Fact]
    public void Sampling_is_seeded_and_tempered()
    {
        var flow = NormalizingFlow.Create("""{"type":"glow","layers":2,"hidden":[8]}""", D, 0, seed: 5, Standardization.Fit(Data(50, D, 2), D));
        float[] Draw(int seed, float temperature)
        {
            var x = new float[30 * D];
            flow.Sample(30, seed, temperature, ReadOnlySpan<float>.Empty, x);
            return x;
        }
        Assert.Equal(Draw(7, 1f), Draw(7, 1f));
        Assert.NotEqual(Draw(7, 1f), Draw(8, 1f));
        // Temperature 0 decodes z = 0 for every row; temperature T scales the latent draws.
        var mode = new float[D];
        flow.Decode(new float[D], 1, ReadOnlySpan<float>.Empty, mode);
        var cold = Draw(7, 0f);
        for (int i = 0; i < cold.Length; i++)
            Assert.Equal(mode[i % D], cold[i], 5);
        var z = new float[30 * D];
        flow.Encode(Draw(9, 0.5f), 30, ReadOnlySpan<float>.Empty, z, new float[30]);
        double variance = z.Select(v => (double)v * v).Average();
        Assert.InRange(variance, 0.25 * 0.5, 0.25 * 1.6);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Shard_gradients_sum_to_the_batch_gradient_and_match_finite_differences(string spec, int context)
    {
        const int rows = 6;
        var data = Data(rows, D, seed: 3);
        var conditionValues = Data(rows, context, seed: 8);
        var flow = NormalizingFlow.Create(spec, D, context, seed: 5, Standardization.Fit(Data(40, D, 2), D));
        var backend = flow.Backend;
        var x = backend.Allocate(rows, D);
        backend.Upload(data, x);
        var condition = context > 0 ? backend.Allocate(rows, context) : null;
        if (condition is not null)
            backend.Upload(conditionValues, condition);

        var whole = flow.AllocateGradients();
        double nll = flow.AccumulateGradients(flow.CreateTrainingContext(whole), x, condition, 1f / rows);
        var shards = flow.AllocateGradients();
        double nllShards = 0;
        foreach (var (start, count) in new[] { (0, 4), (4, 2) })
            nllShards += flow.AccumulateGradients(flow.CreateTrainingContext(shards), x.SliceRows(start, count), condition?.SliceRows(start, count), 1f / rows);

        double MeanNll()
        {
            var logProb = new float[rows];
            flow.LogProb(data, rows, conditionValues, logProb);
            return -logProb.Select(v => (double)v).Average();
        }
        Assert.True(Math.Abs(nll / rows - MeanNll()) <= 1e-5 * (1 + Math.Abs(nll / rows)), $"{spec}: training NLL {nll / rows}, LogProb {MeanNll()}");
        Assert.True(Math.Abs(nll - nllShards) <= 1e-4 * (1 + Math.Abs(nll)));
        var g = whole.Span().ToArray();
        var gs = shards.Span().ToArray();
        for (int i = 0; i < g.Length; i++)
            Assert.True(Math.Abs(g[i] - gs[i]) <= 1e-5 + 1e-4 * Math.Abs(g[i]), $"{spec}: gradient {i}: batch {g[i]}, shards {gs[i]}");

        // A few parameters per slot against central differences of the mean NLL (step h = 2e-3, as the
        // transform theory: truncation O(h²·f‴) and float32 rounding ≈ 1e-7·|L|/h ≈ 5e-4, so 2e-2 relative + 2e-3).
        var parameters = flow.GetParameters();
        foreach (var slot in flow.Layout.Slots)
        {
            foreach (int k in new[] { 0, slot.Length / 2, slot.Length - 1 })
            {
                int index = slot.Offset + k;
                float original = parameters[index];
                parameters[index] = original + Step;
                flow.SetParameters(parameters);
                double plus = MeanNll();
                parameters[index] = original - Step;
                flow.SetParameters(parameters);
                double minus = MeanNll();
                parameters[index] = original;
                flow.SetParameters(parameters);
                double numeric = (plus - minus) / (2 * Step);
                if (Math.Abs(numeric - g[index]) > 2e-3 + 2e-2 * Math.Abs(numeric))
                {
                    // Piecewise-linear ReLU nets: accept a kink inside the step when the one-sided slopes differ by more than the miss.
                    double center = MeanNll();
                    double right = (plus - center) / Step, left = (center - minus) / Step;
                    Assert.True(Math.Abs(right - left) >= Math.Abs(numeric - g[index]) && (Math.Abs(right - g[index]) <= 0.1 * Math.Abs(right) + 2e-3 || Math.Abs(left - g[index]) <= 0.1 * Math.Abs(left) + 2e-3),
                        $"{spec} {slot.Name}[{k}]: numeric {numeric}, analytic {g[index]}");
                }
            }
        }
    }

    [Fact]
    public void InitializeFromData_whitens_the_first_ActNorm_output()
    {
        var data = Data(300, D, seed: 6);
        for (int i = 0; i < data.Length; i++)
            data[i] = 3f * data[i] + (i % D);
        var flow = NormalizingFlow.Create("""{"type":"glow","layers":2,"hidden":[8]}""", D, 0, seed: 5);
        flow.InitializeFromData(data, 300, ReadOnlySpan<float>.Empty);
        var chain = (Chain)flow.Transform;
        var context = new FlowContext(flow.Backend, flow.Parameters);
        var x = flow.Backend.Allocate(300, D);
        flow.Backend.Upload(data, x);
        var y = flow.Backend.Allocate(300, D);
        chain.Transforms[0].Forward(context, x, y, flow.Backend.Allocate(300, 1));
        var fitted = Standardization.Fit(y.Span(), D);
        for (int j = 0; j < D; j++)
        {
            Assert.True(Math.Abs(fitted.Mean[j]) <= 1e-4, $"mean[{j}] = {fitted.Mean[j]}");
            Assert.True(Math.Abs(fitted.Std[j] - 1) <= 1e-4, $"std[{j}] = {fitted.Std[j]}");
        }
    }

    [Fact]
    public void Concurrent_and_sharded_calls_give_the_serial_results()
    {
        const int rows = 1200;  // above the shard threshold
        var data = Data(rows, D, seed: 9);
        var flow = NormalizingFlow.Create("""{"type":"realnvp","layers":3,"hidden":[16]}""", D, 0, seed: 5, Standardization.Fit(data, D));
        var serial = new float[rows];
        for (int r = 0; r < rows; r++)
            flow.LogProb(data.AsSpan(r * D, D), 1, ReadOnlySpan<float>.Empty, serial.AsSpan(r, 1));
        var results = new float[8][];
        Parallel.For(0, 8, i =>
        {
            results[i] = new float[rows];
            flow.LogProb(data, rows, ReadOnlySpan<float>.Empty, results[i]);
        });
        foreach (var result in results)
            for (int r = 0; r < rows; r++)
                Assert.Equal(serial[r], result[r], 4);
    }

    [Fact]
    public void Parameter_names_are_the_reference_state_dict_keys()
    {
        var glow = NormalizingFlow.Create("""{"type":"glow","layers":2,"hidden":[8]}""", D, 1, seed: 5);
        var names = glow.Layout.Slots.Select(s => s.Name).ToArray();
        Assert.Contains("transforms.0.shift", names);
        Assert.Contains("transforms.0.logScale", names);
        Assert.Contains("transforms.1.lower", names);
        Assert.Contains("transforms.1.upper", names);
        Assert.Contains("transforms.1.logScale", names);
        Assert.Contains("transforms.2.conditioner.net.1.weight", names);
        Assert.Equal(D / 2 + 1, glow.Layout["transforms.2.conditioner.net.0.weight"].Cols);  // identity half ++ context
    }

    private static float[] Data(int rows, int cols, int seed)
    {
        var random = new Random(seed);
        var values = new float[rows * cols];
        for (int i = 0; i < values.Length; i++)
            values[i] = (float)(random.NextDouble() * 2 - 1) * (1 + i % 3);
        return values;
    }
}
