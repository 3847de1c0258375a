using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;
using FlowService.Model.Neural;
using FlowService.Model.Parameters;
using FlowService.Model.Transforms;
using FlowService.Model.Transforms.Leaves;

namespace FlowService.Model.Tests.Transforms;

/// <summary>MADE's autoregressive property through the real layers, and the autoregressive transform's exactness.</summary>
public sealed class AutoregressiveTests
{
    private const int Rows = 5, Features = 4;
    private static readonly CpuBackend Backend = CpuBackend.Instance;

    public static TheoryData<int> ContextSizes => new() { 0, 2 };

    [Theory]
    [MemberData(nameof(ContextSizes))]
    public void Made_outputs_for_feature_j_do_not_move_when_a_feature_at_or_after_j_moves(int contextFeatures)
    {
        var made = new Made(Features, contextFeatures, new[] { 12, 9 }, new[] { 3, 3, 2 });
        var (context, _) = Build(layout => made.DeclareParameters(layout.Scope("m")), init => made.InitializeParameters(init, zeroLastLayer: false));
        var input = RandomTensor(Rows, Features + contextFeatures, seed: 1, scale: 1f);
        int[] featureOf = MadeDegrees.Outputs(Features, new[] { 3, 3, 2 }).Select(d => d - 1).ToArray();
        var baseline = Backend.Allocate(Rows, made.OutputFeatures);
        made.Forward(context, input, baseline);
        var baselineValues = baseline.Span().ToArray();

        for (int i = 0; i < Features + contextFeatures; i++)
        {
            var moved = RandomTensor(Rows, Features + contextFeatures, seed: 1, scale: 1f);
            for (int r = 0; r < Rows; r++)
                moved.Row(r)[i] += 1.7f;
            var output = Backend.Allocate(Rows, made.OutputFeatures);
            made.Forward(context, moved, output);
            bool anyChanged = false;
            for (int r = 0; r < Rows; r++)
            {
                for (int o = 0; o < made.OutputFeatures; o++)
                {
                    bool changed = output.Row(r)[o] != baselineValues[r * made.OutputFeatures + o];
                    anyChanged |= changed;
                    if (i < Features && featureOf[o] <= i)
                        Assert.False(changed, $"output {o} (feature {featureOf[o]}) moved with input {i}");
                }
            }
            // Every input but the last feature feeds some output (the last feature feeds none).
            Assert.True(anyChanged || i == Features - 1, $"no output depends on input {i}");
            Assert.True(!anyChanged || i != Features - 1, "an output depends on the last feature");
        }
    }

    [Theory]
    [MemberData(nameof(ContextSizes))]
    public void Spline_autoregressive_inverse_undoes_forward_and_logDet_matches_the_Jacobian(int contextFeatures)
    {
        var transform = new Autoregressive(Features, contextFeatures, new[] { 16, 16 }, new RationalQuadraticSplineLeaf(6, 3f));
        var (context, _) = Build(layout => transform.DeclareParameters(layout.Scope("t")), transform.InitializeParameters);
        if (contextFeatures > 0)
            context.Condition = RandomTensor(Rows, contextFeatures, seed: 7, scale: 1f);
        var x = RandomTensor(Rows, Features, seed: 2, scale: 2f);
        var y = Backend.Allocate(Rows, Features);
        var logDet = Backend.Allocate(Rows, 1);
        transform.Forward(context, x, y, logDet);
        var back = Backend.Allocate(Rows, Features);
        transform.Inverse(context, y, back);
        for (int e = 0; e < x.Length; e++)
            Assert.True(Math.Abs(x.Span()[e] - back.Span()[e]) <= 1e-4, $"element {e}: {x.Span()[e]} vs {back.Span()[e]}");

        // Finite-difference Jacobian per row: lower-triangular, and log|det| = Σ log diag.
        const float eps = 1e-3f;
        for (int r = 0; r < Rows; r++)
        {
            double logAbsDet = 0;
            for (int i = 0; i < Features; i++)
            {
                var plus = x.Span().ToArray();
                var minus = x.Span().ToArray();
                plus[r * Features + i] += eps;
                minus[r * Features + i] -= eps;
                var yPlus = Apply(transform, context, plus);
                var yMinus = Apply(transform, context, minus);
                for (int j = 0; j < Features; j++)
                {
                    double derivative = (yPlus[r * Features + j] - yMinus[r * Features + j]) / (2.0 * eps);
                    if (j < i)
                        Assert.Equal(0.0, derivative);
                    if (j == i)
                        logAbsDet += Math.Log(Math.Abs(derivative));
                }
            }
            Assert.True(Math.Abs(logAbsDet - logDet.Row(r)[0]) <= 2e-3, $"row {r}: finite differences {logAbsDet}, transform {logDet.Row(r)[0]}");
        }
    }

    [Theory]
    [MemberData(nameof(ContextSizes))]
    public void Gradients_match_finite_differences_and_masked_weights_get_none(int contextFeatures)
    {
        var transform = new Autoregressive(Features, contextFeatures, new[] { 8 }, new RationalQuadraticSplineLeaf(4, 3f));
        var (context, layout) = Build(layout => transform.DeclareParameters(layout.Scope("t")), transform.InitializeParameters);
        if (contextFeatures > 0)
        {
            context.Condition = RandomTensor(Rows, contextFeatures, seed: 7, scale: 1f);
            context.ConditionGradient = Backend.Allocate(Rows, contextFeatures);
        }
        var x = RandomTensor(Rows, Features, seed: 2, scale: 2f);
        var dy = RandomTensor(Rows, Features, seed: 4, scale: 1f);       // L = Σ dy·y + Σ dLogDet·logDet
        var dLogDet = RandomTensor(Rows, 1, seed: 5, scale: 1f);
        double Loss()
        {
            var y = Backend.Allocate(Rows, Features);
            var logDet = Backend.Allocate(Rows, 1);
            transform.Forward(context, x, y, logDet);
            double sum = 0;
            for (int e = 0; e < y.Length; e++)
                sum += (double)dy.Span()[e] * y.Span()[e];
            for (int r = 0; r < Rows; r++)
                sum += (double)dLogDet.Span()[r] * logDet.Span()[r];
            return sum;
        }

        context.RecordForBackward = true;
        Loss();
        var dx = Backend.Allocate(Rows, Features);
        transform.Backward(context, dy, dLogDet, dx);
        context.RecordForBackward = false;

        void Check(Span<float> values, int index, float analytic, string what)
        {
            const float eps = 2e-3f;
            float original = values[index];
            values[index] = original + eps;
            double plus = Loss();
            values[index] = original - eps;
            double minus = Loss();
            values[index] = original;
            double numeric = (plus - minus) / (2 * eps);
            Assert.True(Math.Abs(numeric - analytic) <= 5e-3 + 2e-2 * Math.Abs(numeric), $"{what}: finite difference {numeric}, analytic {analytic}");
        }

        for (int e = 0; e < x.Length; e++)
            Check(x.Span(), e, dx.Span()[e], $"dx[{e}]");
        if (contextFeatures > 0)
            for (int e = 0; e < Rows * contextFeatures; e++)
                Check(context.Condition!.Span(), e, context.ConditionGradient!.Span()[e], $"dContext[{e}]");
        var parameters = context.Parameters.Span();
        var gradients = context.Gradients!.Span();
        foreach (var slot in layout.Slots)
        {
            var layer = transform.Conditioner.Layers[int.Parse(slot.Name.Split('.')[3])];
            bool isWeight = slot.Name.EndsWith("weight", StringComparison.Ordinal);
            bool anyNonzero = false;
            for (int k = 0; k < slot.Length; k++)
            {
                float analytic = gradients[slot.Offset + k];
                anyNonzero |= analytic != 0f;
                if (isWeight && layer.Mask[k] == 0f)
                    Assert.Equal(0f, analytic);
                else
                    Check(parameters, slot.Offset + k, analytic, $"{slot.Name}[{k}]");
            }
            Assert.True(anyNonzero, $"{slot.Name} got no gradient");
        }
    }

    private static float[] Apply(ITransform transform, FlowContext context, float[] values)
    {
        var x = Backend.Allocate(Rows, Features);
        Backend.Upload(values, x);
        var y = Backend.Allocate(Rows, Features);
        transform.Forward(context, x, y, Backend.Allocate(Rows, 1));
        return y.Span().ToArray();
    }

    private static (FlowContext Context, ParameterLayout Layout) Build(Action<ParameterLayout> declare, Action<ParameterInitializer> initialize)
    {
        var layout = new ParameterLayout();
        declare(layout);
        var initializer = new ParameterInitializer(layout, seed: 3);
        initialize(initializer);
        var parameters = Backend.Allocate(1, layout.Length);
        Backend.Upload(initializer.Values, parameters);
        return (new FlowContext(Backend, parameters, Backend.Allocate(1, layout.Length)), layout);
    }

    private static Tensor RandomTensor(int rows, int cols, int seed, float scale)
    {
        var random = new Random(seed);
        var t = Backend.Allocate(rows, cols);
        var s = t.Span();
        for (int i = 0; i < s.Length; i++)
            s[i] = scale * (2 * random.NextSingle() - 1);
        return t;
    }
}
