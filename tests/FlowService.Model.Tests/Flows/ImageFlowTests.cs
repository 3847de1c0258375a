using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Flows;
using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Images;

namespace FlowService.Model.Tests.Flows;

/// <summary>The image flows as a whole: a density of pixels that integrates to one, the data-dependent init through factor-outs, exact round trips.</summary>
public sealed class ImageFlowTests
{
    [Fact]
    public void The_density_of_pixel_values_integrates_to_one_over_its_support()
    {
        // A 1x1x2 image: two pixel values. The α-logit maps x/256 ∈ (-α/(1-2α), (1-α)/(1-2α)) onto R, so that
        // interval (in pixel units) is the support; a midpoint grid over it must hold all the mass, which checks the
        // 1/256 change of units, the logit's log|det| and the couplings' together.
        var flow = NormalizingFlow.Create("""{"type":"realnvp","image":[1,1,2],"levels":1,"steps":2,"channels":4,"blocks":1,"zeroInit":false}""", 2, 0, seed: 3);
        const double alpha = Logit.DefaultAlpha;
        double low = 256 * -alpha / (1 - 2 * alpha), high = 256 * (1 - alpha) / (1 - 2 * alpha);
        const int n = 600;
        double cell = (high - low) / n;
        var x = new float[n * n * 2];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                x[(i * n + j) * 2] = (float)(low + (i + 0.5) * cell);
                x[(i * n + j) * 2 + 1] = (float)(low + (j + 0.5) * cell);
            }
        var logProb = new float[n * n];
        flow.LogProb(x, n * n, [], logProb);
        double mass = logProb.Sum(lp => Math.Exp(lp)) * cell * cell;
        Assert.True(Math.Abs(mass - 1) < 5e-3, $"∫ p = {mass}");
    }

    [Fact]
    public void BitsPerDim_of_the_uniform_8_bit_density_is_8()
    {
        // p = 256^-D on [0, 256)^D: -log p / (D ln 2) = 8.
        Assert.Equal(8.0, BitsPerDim.FromLogProb(-784 * Math.Log(256), 784), 12);
        Assert.Throws<ArgumentOutOfRangeException>(() => BitsPerDim.FromLogProb(-1, 0));
    }

    [Fact]
    public void Dequantization_noise_stays_inside_each_pixels_unit_cell()
    {
        var pixels = Enumerable.Range(0, 4096).Select(i => (float)(i % 256)).ToArray();
        var noisy = (float[])pixels.Clone();
        UniformDequantization.AddNoise(noisy, new Random(1));
        for (int i = 0; i < pixels.Length; i++)
            Assert.InRange(noisy[i] - pixels[i], 0f, 0.99999f);
        Assert.InRange(noisy.Zip(pixels, (a, b) => a - b).Average(), 0.47, 0.53);
    }

    [Theory]
    [InlineData("""{"type":"glow","image":[1,8,8],"levels":2,"steps":2,"channels":8,"blocks":1}""")]
    [InlineData("""{"type":"realnvp","image":[3,4,6],"levels":2,"steps":2,"channels":8,"blocks":1}""")]
    public void InitializeFromData_normalizes_every_ActNorm_input_through_the_factor_outs_and_decode_inverts_encode(string json)
    {
        var spec = FlowSpec.Parse(json);
        var shape = System.Text.Json.JsonDocument.Parse(json).RootElement.GetProperty("image").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        int d = shape[0] * shape[1] * shape[2], rows = 64;
        var flow = NormalizingFlow.Create(spec, d, 0, seed: 5);
        var random = new Random(2);
        var x = new float[rows * d];
        for (int i = 0; i < x.Length; i++)
            x[i] = random.Next(256) + random.NextSingle();
        flow.InitializeFromData(x, rows, []);

        // Every per-channel ActNorm now sees zero-mean unit-variance channels on this batch: check at its own output.
        var actNorms = ActNormInputs(flow, x, rows).ToList();
        Assert.Equal(json.Contains("glow") ? 4 : 0, actNorms.Count);
        foreach (var (norm, input) in actNorms)
        {
            var context = new FlowContext(flow.Backend, flow.Parameters);
            var output = flow.Backend.Allocate(input.Rows, input.Cols);
            norm.Forward(context, input, output, flow.Backend.Allocate(input.Rows, 1));
            int c = norm.Shape.Channels;
            var values = output.Span().ToArray();
            for (int ch = 0; ch < c; ch++)
            {
                var channel = values.Where((_, i) => i % c == ch).Select(v => (double)v).ToArray();
                double mean = channel.Average(), variance = channel.Select(v => (v - mean) * (v - mean)).Average();
                Assert.True(Math.Abs(mean) < 1e-3 && Math.Abs(variance - 1) < 1e-3, $"channel {ch}: mean {mean}, variance {variance}");
            }
        }

        var z = new float[x.Length];
        flow.Encode(x, rows, [], z, new float[rows]);
        var back = new float[x.Length];
        flow.Decode(z, rows, [], back);
        double worst = x.Zip(back, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(worst < 2e-3, $"max |x - f⁻¹(f(x))| = {worst} pixel units");
    }

    [Theory]
    [InlineData(0.05f)]
    [InlineData(0f)]
    public void The_logits_inverse_of_saturated_codes_stays_inside_its_domain(float alpha)
    {
        // A trained flow's samples can reach |z| in the hundreds before the logit; their pixels must still score finitely
        // (the service refuses a model whose own samples score NaN).
        var backend = CpuBackend.Instance;
        float[] codes = [-1000f, -100f, -30f, -17f, 17f, 30f, 100f, 1000f];
        var z = backend.Allocate(1, codes.Length);
        backend.Upload(codes, z);
        var x = backend.Allocate(1, codes.Length);
        backend.LogitInverse(z, alpha, x);
        var back = backend.Allocate(1, codes.Length);
        var logDet = backend.Allocate(1, 1);
        backend.Fill(logDet, 0f);
        backend.LogitForward(x, alpha, back, logDet);
        Assert.All(back.Span().ToArray(), v => Assert.True(float.IsFinite(v), $"logit(x) = {v}"));
        Assert.True(float.IsFinite(logDet.Span()[0]), $"log|det| = {logDet.Span()[0]}");
        Assert.All(x.Span().ToArray(), v => Assert.InRange(v, -alpha / (1 - 2 * alpha), (1 - alpha) / (1 - 2 * alpha)));
    }

    [Theory]
    [InlineData(0.05f, 256f)]
    [InlineData(0.05f, 2f)]
    [InlineData(0f, 256f)]
    public void Saturated_codes_still_score_finitely_after_the_pixel_scaling_is_undone_and_redone(float alpha, float range)
    {
        // In a flow the logit follows the fixed scaling x / range. A sample leaves through both inverses (the logit's,
        // then x * range) and comes back through both forwards in float, which moves it by an ulp or two: a code whose
        // logit inverse sat one ulp inside the edge of the domain came back on or past it and scored NaN (about 5% of a
        // Fashion-MNIST model's temperature-1 samples did).
        var backend = CpuBackend.Instance;
        var context = new FlowContext(backend, backend.Allocate(1, 1));
        var scaling = new Standardization(Enumerable.Repeat(0f, 64).ToArray(), Enumerable.Repeat(range, 64).ToArray());
        var logit = new Logit(64, alpha);
        var codes = new float[64];
        for (int i = 0; i < 32; i++)
        {
            codes[2 * i] = 12f + i * 0.25f;   // 12 .. 19.75: from inside to saturated, in small steps
            codes[2 * i + 1] = -codes[2 * i];
        }
        var z = backend.Allocate(1, 64);
        backend.Upload(codes, z);
        var scaled = backend.Allocate(1, 64);
        logit.Inverse(context, z, scaled);
        var pixels = backend.Allocate(1, 64);
        scaling.Inverse(context, scaled, pixels);

        var again = backend.Allocate(1, 64);
        var back = backend.Allocate(1, 64);
        var logDet = backend.Allocate(1, 1);
        backend.Fill(logDet, 0f);
        scaling.Forward(context, pixels, again, logDet);
        logit.Forward(context, again, back, logDet);
        Assert.All(back.Span().ToArray(), v => Assert.True(float.IsFinite(v), $"logit(x / range) = {v}"));
        Assert.True(float.IsFinite(logDet.Span()[0]), $"log|det| = {logDet.Span()[0]}");
        // Codes well inside the domain come back as they went (the margin only moves saturated ones).
        for (int i = 0; i < 4; i++)
            Assert.True(Math.Abs(back.Span()[i] - codes[i]) < 0.1, $"code {codes[i]} came back as {back.Span()[i]}");
    }

    [Fact]
    public void InputNorm_without_its_floor_starts_every_value_after_the_logit_at_zero_mean_and_unit_variance()
    {
        // The floor (on by default) leaves the near-constant values below unit variance on purpose: ActNormFloorTests.
        const string plain = """{"type":"realnvp","image":[2,4,4],"levels":2,"steps":1,"channels":4,"blocks":1}""";
        string normed = plain.Replace("}", ""","inputNorm":true,"inputNormFloor":0}""");
        int d = 32, rows = 200;
        var without = NormalizingFlow.Create(plain, d, 0, seed: 5);
        var flow = NormalizingFlow.Create(normed, d, 0, seed: 5);
        Assert.Equal(without.Parameters.Length + 2 * d, flow.Parameters.Length);    // shift and logScale per value
        var random = new Random(4);
        var x = new float[rows * d];
        for (int i = 0; i < x.Length; i++)    // a near-constant "background" value and a spread-out one, alternating
            x[i] = i % 2 == 0 ? random.NextSingle() : random.Next(256) + random.NextSingle();
        flow.InitializeFromData(x, rows, []);

        // Channels-last, ÷ range, logit, the ActNorm: its output on the initialisation rows is standardized per value.
        var backend = flow.Backend;
        var context = new FlowContext(backend, flow.Parameters);
        var h = backend.Allocate(rows, d);
        backend.Upload(x, h);
        var preprocessing = ((Chain)flow.Transform).Transforms.Take(4).ToList();
        Assert.IsType<ActNorm>(preprocessing[3]);
        foreach (var part in preprocessing)
        {
            var next = backend.Allocate(rows, d);
            part.Forward(context, h, next, backend.Allocate(rows, 1));
            h = next;
        }
        var values = h.Span().ToArray();
        for (int j = 0; j < d; j++)
        {
            var column = Enumerable.Range(0, rows).Select(r => (double)values[r * d + j]).ToArray();
            double mean = column.Average(), variance = column.Select(v => (v - mean) * (v - mean)).Average();
            Assert.True(Math.Abs(mean) < 1e-3 && Math.Abs(variance - 1) < 1e-2, $"value {j}: mean {mean}, variance {variance}");
        }
    }

    /// <summary>Each per-channel ActNorm of the flow with the input it receives from <paramref name="x"/>.</summary>
    private static IEnumerable<(ChannelActNorm Norm, Tensor Input)> ActNormInputs(NormalizingFlow flow, float[] x, int rows)
    {
        var backend = flow.Backend;
        var context = new FlowContext(backend, flow.Parameters);
        var h = backend.Allocate(rows, flow.Features);
        backend.Upload(x, h);
        var found = new List<(ChannelActNorm, Tensor)>();
        void Walk(ITransform transform, Tensor input)
        {
            switch (transform)
            {
                case ChannelActNorm norm:
                    found.Add((norm, input));
                    break;
                case Chain chain:
                    foreach (var part in chain.Transforms)
                    {
                        Walk(part, input);
                        var next = backend.Allocate(input.Rows, input.Cols);
                        part.Forward(context, input, next, backend.Allocate(input.Rows, 1));
                        input = next;
                    }
                    break;
                case FactorOut factorOut:
                    var kept = backend.Allocate(input.Rows, factorOut.Kept);
                    backend.CopyColumns(input, 0, kept, 0, factorOut.Kept);
                    Walk(factorOut.Inner, kept);
                    break;
            }
        }
        Walk(flow.Transform, h);
        return found;
    }
}
