using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Images;

namespace FlowService.Model.Tests.Transforms;

/// <summary>
/// The one theory over every transform and flow type (<see cref="TransformCases"/>): exact
/// inverse, log|det J| against a finite-difference Jacobian, gradients of the NLL against
/// finite differences for inputs, context and every parameter, every parameter reached, and
/// zero-initialised conditioners giving the identity.
/// </summary>
public sealed class TransformTheoryTests
{
    private const int Rows = 4;
    private static readonly CpuBackend Backend = CpuBackend.Instance;

    public static IEnumerable<object[]> Cases => TransformCases.Names(withContext: true);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Inverse_undoes_forward(string name, int contextFeatures)
    {
        var (transform, context, _) = Build(name, contextFeatures, zeroInit: false);
        var x = Random(Rows, transform.Features, seed: 1, scale: 1.5f);
        var y = Backend.Allocate(Rows, transform.Features);
        transform.Forward(context, x, y, Backend.Allocate(Rows, 1));
        var back = Backend.Allocate(Rows, transform.Features);
        transform.Inverse(context, y, back);
        double worst = MaxAbsDifference(x.Span(), back.Span());
        Assert.True(worst <= 1e-4, $"{name}: max |x - f⁻¹(f(x))| = {worst}");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void LogDet_equals_the_log_abs_determinant_of_the_finite_difference_Jacobian(string name, int contextFeatures)
    {
        var (transform, context, _) = Build(name, contextFeatures, zeroInit: false);
        int d = transform.Features;
        var x = Random(Rows, d, seed: 2, scale: 1.5f);
        var logDet = Backend.Allocate(Rows, 1);
        transform.Forward(context, x, Backend.Allocate(Rows, d), logDet);

        const float eps = 1e-3f;
        var jacobians = new double[Rows, d, d];
        for (int i = 0; i < d; i++)
        {
            var plus = Apply(transform, context, x, i, eps);
            var minus = Apply(transform, context, x, i, -eps);
            for (int r = 0; r < Rows; r++)
                for (int j = 0; j < d; j++)
                    jacobians[r, j, i] = ((double)plus[r * d + j] - minus[r * d + j]) / (2.0 * eps);
        }
        for (int r = 0; r < Rows; r++)
        {
            var jacobian = new double[d, d];
            for (int a = 0; a < d; a++)
                for (int b = 0; b < d; b++)
                    jacobian[a, b] = jacobians[r, a, b];
            double expected = LogAbsDeterminant(jacobian);
            Assert.True(Math.Abs(expected - logDet.Row(r)[0]) <= 2e-3, $"{name} row {r}: slogdet(finite-difference J) = {expected}, transform {logDet.Row(r)[0]}");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void NLL_gradients_match_finite_differences_and_reach_every_parameter(string name, int contextFeatures)
    {
        var (transform, context, layout) = Build(name, contextFeatures, zeroInit: false);
        int d = transform.Features;
        var x = Random(Rows, d, seed: 5, scale: 1.5f);
        if (contextFeatures > 0)
            context.ConditionGradient = Backend.Allocate(Rows, contextFeatures);

        context.RecordForBackward = true;
        var z = Backend.Allocate(Rows, d);
        var logDet = Backend.Allocate(Rows, 1);
        transform.Forward(context, x, z, logDet);
        // L = mean_r(½|z_r|² - logDet_r) (the NLL up to a constant): dL/dz = z/B, dL/dlogDet = -1/B.
        var dz = Backend.Allocate(Rows, d);
        var zs = z.Span();
        for (int e = 0; e < zs.Length; e++)
            dz.Span()[e] = zs[e] / Rows;
        var dLogDet = Backend.Allocate(Rows, 1);
        Backend.Fill(dLogDet, -1f / Rows);
        var dx = Backend.Allocate(Rows, d);
        transform.Backward(context, dz, dLogDet, dx);
        context.RecordForBackward = false;

        double Loss()
        {
            var zz = Backend.Allocate(Rows, d);
            var ld = Backend.Allocate(Rows, 1);
            transform.Forward(context, x, zz, ld);
            double sum = 0;
            for (int r = 0; r < Rows; r++)
            {
                for (int j = 0; j < d; j++)
                    sum += 0.5 * zz.Row(r)[j] * (double)zz.Row(r)[j];
                sum -= ld.Row(r)[0];
            }
            return sum / Rows;
        }

        void Check(Span<float> values, int index, float analytic, string what)
        {
            const float eps = 2e-3f;
            float original = values[index];
            double center = Loss();
            values[index] = original + eps;
            double plus = Loss();
            values[index] = original - eps;
            double minus = Loss();
            values[index] = original;
            double central = (plus - minus) / (2 * eps);
            bool Close(double numeric, double relative) => Math.Abs(numeric - analytic) <= 2e-3 + relative * Math.Abs(numeric);
            if (Close(central, 2e-2))
                return;
            // A kink within ±eps (a ReLU switching, or a knot of a spline crossing x: the spline is
            // C¹, so its log-derivative is only C⁰): the one-sided slopes differ, and the analytic
            // gradient must equal the one on its own side, up to the one-sided O(eps) error.
            double right = (plus - center) / eps, left = (center - minus) / eps;
            // Smooth, the one-sided slopes differ by eps·|f''| (about 1e-3 here); a jump in slope larger
            // than the central difference's miss is what explains the miss.
            double jump = Math.Abs(right - left);
            bool kink = jump > 2e-3 && jump >= Math.Abs(central - analytic);
            Assert.True(kink && (Close(right, 1e-1) || Close(left, 1e-1)),
                $"{name} {what}: finite differences central {central}, right {right}, left {left}; analytic {analytic}");
        }

        for (int e = 0; e < x.Length; e++)
            Check(x.Span(), e, dx.Span()[e], $"dx[{e}]");
        if (contextFeatures > 0)
            for (int e = 0; e < Rows * contextFeatures; e++)
                Check(context.Condition!.Span(), e, context.ConditionGradient!.Span()[e], $"dcontext[{e}]");
        var parameters = context.Parameters.Span();
        var gradients = context.Gradients!.Span();
        foreach (var slot in layout.Slots)
        {
            bool reached = false;
            for (int k = 0; k < slot.Length; k++)
            {
                float analytic = gradients[slot.Offset + k];
                reached |= analytic != 0f;
                Check(parameters, slot.Offset + k, analytic, $"{slot.Name}[{k}]");
            }
            Assert.True(reached, $"{name}: {slot.Name} gets no gradient");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Zero_initialised_conditioners_make_the_identity(string name, int contextFeatures)
    {
        var (transform, context, _) = Build(name, contextFeatures, zeroInit: true);
        // Beyond the spline tail bounds too; image cases stay inside their pixel range (the logit's domain).
        var x = Random(Rows, transform.Features, seed: 5, scale: TransformCases.IsImage(name) ? 1.5f : 4f);
        var y = Backend.Allocate(Rows, transform.Features);
        var logDet = Backend.Allocate(Rows, 1);
        transform.Forward(context, x, y, logDet);
        // Only the transforms without a conditioner (permutations, LU, ActNorm, standardization)
        // remain: the output is x passed through them alone, with their log|det| alone.
        var expected = x;
        var expectedLogDet = Backend.Allocate(Rows, 1);
        var parts = transform is Chain chain ? chain.Transforms : new[] { transform };
        foreach (var part in parts.Where(t => t is not Coupling and not Autoregressive and not ImageCoupling))
        {
            var next = Backend.Allocate(Rows, transform.Features);
            part.Forward(context, expected, next, expectedLogDet);
            expected = next;
        }
        Assert.True(MaxAbsDifference(expected.Span(), y.Span()) <= 1e-5, $"{name}: zero-initialised output differs from the conditioner-free transforms' output");
        Assert.True(MaxAbsDifference(expectedLogDet.Span(), logDet.Span()) <= 1e-5, $"{name}: zero-initialised log|det| differs from the conditioner-free transforms' log|det|");
    }

    internal static (ITransform Transform, FlowContext Context, ParameterLayout Layout) Build(string name, int contextFeatures, bool zeroInit)
    {
        var transform = TransformCases.All[name](contextFeatures, zeroInit);
        var layout = new ParameterLayout();
        transform.DeclareParameters(layout.Scope(""));
        var initializer = new ParameterInitializer(layout, seed: 7);
        transform.InitializeParameters(initializer);
        if (!zeroInit)
            MakeZeroSlotsNonTrivial(layout, initializer.Values);
        var parameters = Backend.Allocate(1, Math.Max(layout.Length, 1));  // a permutation has no parameters
        initializer.Values.CopyTo(parameters.Span());
        var context = new FlowContext(Backend, parameters, Backend.Allocate(1, parameters.Length));
        if (contextFeatures > 0)
            context.Condition = Random(Rows, contextFeatures, seed: 9, scale: 1f);
        return (transform, context, layout);
    }

    /// <summary>
    /// Slots that start at zero by design (ActNorm's shift and log-scale before data-dependent
    /// initialisation, LU's log-scale) get fixed non-zero values, so the checks see a non-trivial map.
    /// </summary>
    private static void MakeZeroSlotsNonTrivial(ParameterLayout layout, float[] values)
    {
        foreach (var slot in layout.Slots)
        {
            var span = values.AsSpan(slot.Offset, slot.Length);
            if (span.ContainsAnyExcept(0f) || slot.Name.Contains("net.", StringComparison.Ordinal))
                continue;
            for (int k = 0; k < span.Length; k++)
                span[k] = 0.4f * MathF.Sin(1.7f * k + slot.Offset);
        }
    }

    private static float[] Apply(ITransform transform, FlowContext context, Tensor x, int feature, float delta)
    {
        var moved = Backend.Allocate(x.Rows, x.Cols);
        Backend.Copy(x, moved);
        for (int r = 0; r < x.Rows; r++)
            moved.Row(r)[feature] += delta;
        var y = Backend.Allocate(x.Rows, x.Cols);
        transform.Forward(context, moved, y, Backend.Allocate(x.Rows, 1));
        return y.Span().ToArray();
    }

    /// <summary>log|det A| by LU with partial pivoting, in double.</summary>
    private static double LogAbsDeterminant(double[,] a)
    {
        int n = a.GetLength(0);
        double sum = 0;
        for (int k = 0; k < n; k++)
        {
            int pivot = k;
            for (int i = k + 1; i < n; i++)
                if (Math.Abs(a[i, k]) > Math.Abs(a[pivot, k]))
                    pivot = i;
            if (pivot != k)
                for (int j = 0; j < n; j++)
                    (a[k, j], a[pivot, j]) = (a[pivot, j], a[k, j]);
            sum += Math.Log(Math.Abs(a[k, k]));
            for (int i = k + 1; i < n; i++)
            {
                double factor = a[i, k] / a[k, k];
                for (int j = k; j < n; j++)
                    a[i, j] -= factor * a[k, j];
            }
        }
        return sum;
    }

    private static double MaxAbsDifference(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        double worst = 0;
        for (int i = 0; i < a.Length; i++)
            worst = Math.Max(worst, Math.Abs((double)a[i] - b[i]));
        return worst;
    }

    private static Tensor Random(int rows, int cols, int seed, float scale)
    {
        var random = new Random(seed);
        var t = Backend.Allocate(rows, cols);
        var s = t.Span();
        for (int i = 0; i < s.Length; i++)
            s[i] = scale * (2 * random.NextSingle() - 1);
        return t;
    }
}
