using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Distributions;
using FlowService.Model.Flows;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;

namespace FlowService.Model.Tests.Distributions;

/// <summary>
/// The Gaussian-mixture base: log p against the textbook density (explicit precision matrices, determinants by
/// elimination, a plain sum of exponentials), gradients wrt z and every parameter against central differences,
/// sampling moments and seeding, the data-dependent start on clustered rows, and the spec's "base" section.
/// </summary>
public sealed class GaussianMixtureBaseTests
{
    private const int D = 3, K = 3;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Log_density_is_the_textbook_mixture_density(bool diagonal)
    {
        var (mixture, layout, parameters) = Build(diagonal, seed: 1);
        var z = Points(40, seed: 2);
        var host = new float[40];
        mixture.AddLogDensity(parameters, z, host);
        // The training path (a FlowContext on the CPU backend) gives the same values.
        var context = new FlowContext(CpuBackend.Instance, Upload(parameters));
        var tz = Upload(z, 40, D);
        var logProb = CpuBackend.Instance.Allocate(40, 1);
        mixture.LogDensity(context, tz, logProb);
        for (int r = 0; r < 40; r++)
        {
            double expected = Math.Log(TextbookDensity(layout, parameters, diagonal, z.AsSpan(r * D, D)));
            Assert.True(Math.Abs(host[r] - expected) <= 1e-5 * (1 + Math.Abs(expected)), $"row {r}: mixture {host[r]}, textbook {expected}");
            Assert.Equal(host[r], logProb.Span()[r]);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Gradients_wrt_z_and_every_parameter_match_central_differences(bool diagonal)
    {
        var (mixture, layout, parameters) = Build(diagonal, seed: 3);
        const int rows = 5;
        const float scale = -0.7f;
        var z = Points(rows, seed: 4);
        var gradients = CpuBackend.Instance.Allocate(1, layout.Length);
        var context = new FlowContext(CpuBackend.Instance, Upload(parameters), gradients);
        var dz = CpuBackend.Instance.Allocate(rows, D);
        mixture.LogDensityBackward(context, Upload(z, rows, D), scale, dz);

        // L = scale · Σ_r log p(z_r) in double from the textbook formula; h = 1e-3 keeps truncation ~1e-7 relative.
        double Loss(float[] p, float[] points)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++)
                sum += Math.Log(TextbookDensity(layout, p, diagonal, points.AsSpan(r * D, D)));
            return scale * sum;
        }
        const float h = 1e-3f;
        double Central(float[] values, int i, Func<double> loss)
        {
            float original = values[i];
            values[i] = original + h;
            double plus = loss();
            values[i] = original - h;
            double minus = loss();
            values[i] = original;
            return (plus - minus) / ((double)(original + h) - (original - h));
        }
        for (int i = 0; i < z.Length; i++)
        {
            double numeric = Central(z, i, () => Loss(parameters, z));
            Assert.True(Math.Abs(numeric - dz.Span()[i]) <= 1e-3 + 1e-3 * Math.Abs(numeric), $"dz[{i}]: numeric {numeric}, analytic {dz.Span()[i]}");
        }
        foreach (var slot in layout.Slots)
            for (int k = 0; k < slot.Length; k++)
            {
                int i = slot.Offset + k;
                // Only the strict lower part of each precision factor is a parameter; the rest must get no gradient.
                bool unused = slot.Name.EndsWith("precisionLower", StringComparison.Ordinal) && k % D >= k / D % D;
                double numeric = unused ? 0 : Central(parameters, i, () => Loss(parameters, z));
                Assert.True(Math.Abs(numeric - gradients.Span()[i]) <= 1e-3 + 1e-3 * Math.Abs(numeric), $"{slot.Name}[{k}]: numeric {numeric}, analytic {gradients.Span()[i]}");
            }

        // Accumulates: a second call doubles the parameter gradients.
        var once = gradients.Span().ToArray();
        mixture.LogDensityBackward(context, Upload(z, rows, D), scale, dz);
        for (int i = 0; i < once.Length; i++)
            Assert.Equal(2 * once[i], gradients.Span()[i], 4);
    }

    [Fact]
    public void Samples_have_the_mixture_moments_and_the_temperature_scales_each_component()
    {
        var (mixture, layout, parameters) = Build(diagonal: false, seed: 5);
        const int n = 40_000;
        var weights = Softmax(parameters.AsSpan(layout["base.logits"].Offset, K));
        var means = Enumerable.Range(0, K).Select(k => parameters.AsSpan(layout["base.means"].Offset + k * D, D).ToArray().Select(v => (double)v).ToArray()).ToArray();
        var covariances = Enumerable.Range(0, K).Select(k => Invert(Precision(layout, parameters, false, k))).ToArray();
        foreach (float temperature in new[] { 1f, 0.5f })
        {
            var z = new float[n * D];
            mixture.Sample(parameters, z, seed: 7, temperature);
            for (int i = 0; i < D; i++)
            {
                double mean = Enumerable.Range(0, K).Sum(k => weights[k] * means[k][i]);
                double sampleMean = Enumerable.Range(0, n).Average(r => (double)z[r * D + i]);
                for (int j = 0; j <= i; j++)
                {
                    // Law of total covariance: Σ_k π_k (T² Σ_k + μ_k μ_kᵀ) - μ μᵀ.
                    double expected = Enumerable.Range(0, K).Sum(k => weights[k] * (temperature * temperature * covariances[k][i, j] + means[k][i] * means[k][j]))
                        - mean * Enumerable.Range(0, K).Sum(k => weights[k] * means[k][j]);
                    double sample = Enumerable.Range(0, n).Average(r => (double)z[r * D + i] * z[r * D + j]) - sampleMean * Enumerable.Range(0, n).Average(r => (double)z[r * D + j]);
                    Assert.True(Math.Abs(sample - expected) <= 0.05 * (1 + Math.Abs(expected)), $"T={temperature} cov[{i},{j}]: sample {sample}, expected {expected}");
                }
                Assert.True(Math.Abs(sampleMean - mean) <= 0.03, $"T={temperature} mean[{i}]: sample {sampleMean}, expected {mean}");
            }
        }
        var a = new float[10 * D];
        var b = new float[10 * D];
        var c = new float[10 * D];
        mixture.Sample(parameters, a, seed: 3, 1f);
        mixture.Sample(parameters, b, seed: 3, 1f);
        mixture.Sample(parameters, c, seed: 4, 1f);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Throws<ArgumentOutOfRangeException>(() => mixture.Sample(parameters, a, seed: 3, -1f));
    }

    [Fact]
    public void The_data_dependent_start_fits_well_separated_clusters()
    {
        // Three clusters in 2-D (weights 0.5, 0.3, 0.2): the mixture fitted to the latent codes (whitened data)
        // scores the rows within 0.05 nat of the generating density, where the flow's Gaussian start is far worse.
        const int rows = 3000;
        var random = new Random(9);
        double[][] centres = [[0, 0], [6, 1], [2, 7]];
        double[] weights = [0.5, 0.3, 0.2], spread = [1.0, 0.5, 0.8];
        var data = new float[rows * 2];
        double trueMean = 0;
        for (int r = 0; r < rows; r++)
        {
            double u = random.NextDouble();
            int k = u < 0.5 ? 0 : u < 0.8 ? 1 : 2;
            data[r * 2] = (float)(centres[k][0] + spread[k] * ParameterInitializer.StandardNormal(random));
            data[r * 2 + 1] = (float)(centres[k][1] + spread[k] * ParameterInitializer.StandardNormal(random));
            double p = 0;
            for (int c = 0; c < 3; c++)
            {
                double dx = (data[r * 2] - centres[c][0]) / spread[c], dy = (data[r * 2 + 1] - centres[c][1]) / spread[c];
                p += weights[c] * Math.Exp(-0.5 * (dx * dx + dy * dy)) / (2 * Math.PI * spread[c] * spread[c]);
            }
            trueMean += Math.Log(p) / rows;
        }
        double MeanLogProb(string json)
        {
            var flow = NormalizingFlow.Create(json, 2, 0, seed: 1, Standardization.Fit(data, 2));
            flow.InitializeFromData(data, rows, []);
            var logProb = new float[rows];
            flow.LogProb(data, rows, [], logProb);
            return logProb.Average(v => (double)v);
        }
        double mixture = MeanLogProb("""{"type":"gaussian","base":{"components":3}}""");
        double gaussian = MeanLogProb("""{"type":"gaussian"}""");
        Assert.True(Math.Abs(mixture - trueMean) <= 0.05, $"mixture start {mixture}, generating density {trueMean}");
        Assert.True(mixture > gaussian + 0.5, $"mixture start {mixture}, Gaussian {gaussian}");
        // Seeded: the same flow seed gives the same start.
        Assert.Equal(mixture, MeanLogProb("""{"type":"gaussian","base":{"components":3}}"""));
    }

    [Fact]
    public void The_start_clusters_the_rows_as_they_enter_the_flow_where_whitening_would_hide_the_clusters()
    {
        // Two equal clusters that move ten correlated columns together (x_j = 2c + noise, c = ±1), beside ten noise columns.
        // Standardized, the clusters are 5.7 apart against unit noise; whitened, they are one unit-variance direction of
        // twenty, and k-means there cuts along noise. The start must find the clusters: the generating density, not the Gaussian's.
        const int rows = 600, d = 20;
        var random = new Random(4);
        var data = new float[rows * d];
        double trueMean = 0;
        for (int r = 0; r < rows; r++)
        {
            int c = random.NextDouble() < 0.5 ? -1 : 1;
            double plus = 0, minus = 0;
            for (int j = 0; j < d; j++)
            {
                double noise = ParameterInitializer.StandardNormal(random);
                data[r * d + j] = (float)((j < 10 ? 2 * c : 0) + noise);
                double v = data[r * d + j];
                plus += j < 10 ? (v - 2) * (v - 2) : v * v;
                minus += j < 10 ? (v + 2) * (v + 2) : v * v;
            }
            double min = Math.Min(plus, minus);
            trueMean += (-0.5 * min + Math.Log(0.5 * (Math.Exp(-0.5 * (plus - min)) + Math.Exp(-0.5 * (minus - min)))) - 0.5 * d * Math.Log(2 * Math.PI)) / rows;
        }
        var flow = NormalizingFlow.Create("""{"type":"gaussian","base":{"components":2}}""", d, 0, seed: 1, Standardization.Fit(data, d));
        flow.InitializeFromData(data, rows, []);
        var logProb = new float[rows];
        flow.LogProb(data, rows, [], logProb);
        double mixture = logProb.Average(v => (double)v);
        // Fitted to these very rows, the mixture may score them a little above the generating density (2 x 230 parameters).
        Assert.InRange(mixture, trueMean - 0.05, trueMean + 0.6);
    }

    [Fact]
    public void One_component_is_the_standard_normal_and_adds_no_parameters()
    {
        var plain = NormalizingFlow.Create("""{"type":"maf","layers":2,"hidden":[8]}""", D, 0, seed: 2);
        var one = NormalizingFlow.Create("""{"type":"maf","layers":2,"hidden":[8],"base":{"components":1}}""", D, 0, seed: 2);
        var two = NormalizingFlow.Create("""{"type":"maf","layers":2,"hidden":[8],"base":{"components":2}}""", D, 0, seed: 2);
        Assert.Same(StandardNormal.Instance, one.Base);
        Assert.Equal(plain.GetParameters(), one.GetParameters());
        // The mixture's parameters follow the chain's, which keep their names and seeded values.
        Assert.IsType<GaussianMixtureBase>(two.Base);
        Assert.Equal(plain.GetParameters(), two.GetParameters()[..plain.Layout.Length]);
        Assert.Equal(["base.logits", "base.means", "base.logScale", "base.precisionLower"], two.Layout.Slots.Skip(plain.Layout.Slots.Count).Select(s => s.Name));
    }

    [Theory]
    [InlineData("""{"type":"maf","base":3}""", "base")]
    [InlineData("""{"type":"maf","base":{"components":0}}""", "base.components")]
    [InlineData("""{"type":"maf","base":{"components":65}}""", "base.components")]
    [InlineData("""{"type":"nsf","base":{"components":2,"covariance":"spherical"}}""", "base.covariance")]
    [InlineData("""{"type":"realnvp","base":{"components":2,"shrinkage":1}}""", "base.shrinkage")]
    [InlineData("""{"type":"realnvp","base":{"components":2,"shrinkage":-0.1}}""", "base.shrinkage")]
    [InlineData("""{"type":"realnvp","base":{"components":1,"covariance":"full"}}""", "base.covariance")]
    [InlineData("""{"type":"gaussianization","base":{"components":2,"means":[0]}}""", "base.means")]
    [InlineData("""{"type":"glow","base":{"type":"mixture"}}""", "base.type")]
    public void Bad_base_sections_are_rejected_naming_the_field(string json, string field)
    {
        var error = Assert.Throws<FlowSpecException>(() => NormalizingFlow.Create(json, 4, 0, seed: 1));
        Assert.Equal(field, error.Field);
        Assert.Contains(field, error.Message, StringComparison.Ordinal);
    }

    private static (GaussianMixtureBase Mixture, ParameterLayout Layout, float[] Parameters) Build(bool diagonal, int seed)
    {
        var mixture = new GaussianMixtureBase(D, K, diagonal, shrinkage: 0, seed: 1);
        var layout = new ParameterLayout();
        mixture.DeclareParameters(layout.Scope("base"));
        var random = new Random(seed);
        var parameters = new float[layout.Length];
        foreach (var slot in layout.Slots)
            for (int i = 0; i < slot.Length; i++)
                parameters[slot.Offset + i] = (float)(random.NextDouble() * 1.6 - 0.8) * (slot.Name.EndsWith("means", StringComparison.Ordinal) ? 2f : 1f);
        return (mixture, layout, parameters);
    }

    /// <summary>Σ_k π_k (2π)^(-D/2) det(P_k)^(1/2) exp(-½ rᵀ P_k r) with P_k = U_kᵀ U_k built explicitly.</summary>
    private static double TextbookDensity(ParameterLayout layout, float[] p, bool diagonal, ReadOnlySpan<float> z)
    {
        var weights = Softmax(p.AsSpan(layout["base.logits"].Offset, K));
        double density = 0;
        for (int k = 0; k < K; k++)
        {
            var precision = Precision(layout, p, diagonal, k);
            var r = new double[D];
            for (int i = 0; i < D; i++)
                r[i] = z[i] - (double)p[layout["base.means"].Offset + k * D + i];
            double quadratic = 0;
            for (int i = 0; i < D; i++)
                for (int j = 0; j < D; j++)
                    quadratic += r[i] * precision[i, j] * r[j];
            density += weights[k] * Math.Pow(2 * Math.PI, -D / 2.0) * Math.Sqrt(Determinant(precision)) * Math.Exp(-0.5 * quadratic);
        }
        return density;
    }

    private static double[,] Precision(ParameterLayout layout, float[] p, bool diagonal, int k)
    {
        var u = new double[D, D];
        for (int i = 0; i < D; i++)
        {
            u[i, i] = Math.Exp(-p[layout["base.logScale"].Offset + k * D + i]);
            if (!diagonal)
                for (int j = 0; j < i; j++)
                    u[i, j] = p[layout["base.precisionLower"].Offset + (k * D + i) * D + j];
        }
        var precision = new double[D, D];
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
                for (int m = 0; m < D; m++)
                    precision[i, j] += u[m, i] * u[m, j];
        return precision;
    }

    private static double Determinant(double[,] a)
    {
        var m = (double[,])a.Clone();
        double det = 1;
        for (int c = 0; c < D; c++)
        {
            int pivot = Enumerable.Range(c, D - c).MaxBy(r => Math.Abs(m[r, c]));
            if (pivot != c)
            {
                det = -det;
                for (int j = 0; j < D; j++)
                    (m[c, j], m[pivot, j]) = (m[pivot, j], m[c, j]);
            }
            det *= m[c, c];
            for (int r = c + 1; r < D; r++)
            {
                double f = m[r, c] / m[c, c];
                for (int j = c; j < D; j++)
                    m[r, j] -= f * m[c, j];
            }
        }
        return det;
    }

    private static double[,] Invert(double[,] a)
    {
        // Gauss-Jordan on [A | I].
        var m = new double[D, 2 * D];
        for (int i = 0; i < D; i++)
        {
            for (int j = 0; j < D; j++)
                m[i, j] = a[i, j];
            m[i, D + i] = 1;
        }
        for (int c = 0; c < D; c++)
        {
            int pivot = Enumerable.Range(c, D - c).MaxBy(r => Math.Abs(m[r, c]));
            for (int j = 0; j < 2 * D; j++)
                (m[c, j], m[pivot, j]) = (m[pivot, j], m[c, j]);
            double diagonal = m[c, c];
            for (int j = 0; j < 2 * D; j++)
                m[c, j] /= diagonal;
            for (int r = 0; r < D; r++)
            {
                if (r == c)
                    continue;
                double f = m[r, c];
                for (int j = 0; j < 2 * D; j++)
                    m[r, j] -= f * m[c, j];
            }
        }
        var inverse = new double[D, D];
        for (int i = 0; i < D; i++)
            for (int j = 0; j < D; j++)
                inverse[i, j] = m[i, D + j];
        return inverse;
    }

    private static double[] Softmax(ReadOnlySpan<float> logits)
    {
        var e = new double[logits.Length];
        for (int i = 0; i < e.Length; i++)
            e[i] = Math.Exp(logits[i]);
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }

    private static float[] Points(int rows, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows * D).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray();
    }

    private static Tensor Upload(float[] values) => Upload(values, 1, values.Length);

    private static Tensor Upload(float[] values, int rows, int cols)
    {
        var tensor = CpuBackend.Instance.Allocate(rows, cols);
        CpuBackend.Instance.Upload(values, tensor);
        return tensor;
    }
}
