using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute.Cpu;

/// <summary>A dense layer built from the backend GEMM and the fused kernels, checked end to end by finite differences.</summary>
public sealed class DenseLayerGradientTests
{
    private readonly CpuBackend _backend = new(GemmImplementation.Managed);

    [Fact]
    public void A_dense_tanh_layer_backward_matches_central_finite_differences_of_its_forward()
    {
        // L = Σ g ∘ tanh(x·Wᵀ + b): dL/db, dL/dW and dL/dx through Gemm + BiasActivation, against finite differences in double.
        const int rows = 5, inputs = 7, outputs = 19;
        var random = new Random(3);
        float[] Values(int n) => Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
        var x = Upload(Values(rows * inputs), rows, inputs);
        var w = Upload(Values(outputs * inputs), outputs, inputs);
        var b = Upload(Values(outputs), 1, outputs);
        var g = Upload(Values(rows * outputs), rows, outputs);

        var y = _backend.Allocate(rows, outputs);
        _backend.Gemm(false, true, 1f, x, w, 0f, y);
        BiasActivation.Forward(y.Span(), b.Span(), y.Span(), FusedActivation.Tanh);    // in place, as a layer would
        var dPre = _backend.Allocate(rows, outputs);
        var db = _backend.Allocate(1, outputs);
        BiasActivation.Backward(y.Span(), g.Span(), dPre.Span(), db.Span(), FusedActivation.Tanh);
        var dx = _backend.Allocate(rows, inputs);
        _backend.Gemm(false, false, 1f, dPre, w, 0f, dx);
        var dw = _backend.Allocate(outputs, inputs);
        _backend.Gemm(true, false, 1f, dPre, x, 1f, dw);    // dW += dPreᵀ·X

        double Loss(double[] xv, double[] bv) => LossWith(xv, bv, w.Span().ToArray().Select(v => (double)v).ToArray());
        double LossWith(double[] xv, double[] bv, double[] wv)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < outputs; o++)
                {
                    double pre = bv[o];
                    for (int i = 0; i < inputs; i++)
                        pre += xv[r * inputs + i] * wv[o * inputs + i];
                    sum += g.Span()[r * outputs + o] * Math.Tanh(pre);
                }
            return sum;
        }
        var x0 = x.Span().ToArray().Select(v => (double)v).ToArray();
        var b0 = b.Span().ToArray().Select(v => (double)v).ToArray();
        const double h = 1e-5;
        for (int o = 0; o < outputs; o++)
        {
            var plus = (double[])b0.Clone(); plus[o] += h;
            var minus = (double[])b0.Clone(); minus[o] -= h;
            double expected = (Loss(x0, plus) - Loss(x0, minus)) / (2 * h);
            Assert.True(Math.Abs(db.Span()[o] - expected) <= 1e-4 * (1 + Math.Abs(expected)), $"db[{o}] = {db.Span()[o]}, finite difference {expected}");
        }
        var w0 = w.Span().ToArray().Select(v => (double)v).ToArray();
        for (int i = 0; i < outputs * inputs; i++)
        {
            var plus = (double[])w0.Clone(); plus[i] += h;
            var minus = (double[])w0.Clone(); minus[i] -= h;
            double expected = (LossWith(x0, b0, plus) - LossWith(x0, b0, minus)) / (2 * h);
            Assert.True(Math.Abs(dw.Span()[i] - expected) <= 1e-4 * (1 + Math.Abs(expected)), $"dW[{i}] = {dw.Span()[i]}, finite difference {expected}");
        }
        for (int i = 0; i < rows * inputs; i++)
        {
            var plus = (double[])x0.Clone(); plus[i] += h;
            var minus = (double[])x0.Clone(); minus[i] -= h;
            double expected = (Loss(plus, b0) - Loss(minus, b0)) / (2 * h);
            Assert.True(Math.Abs(dx.Span()[i] - expected) <= 1e-4 * (1 + Math.Abs(expected)), $"dx[{i}] = {dx.Span()[i]}, finite difference {expected}");
        }
    }

    private Tensor Upload(float[] values, int rows, int cols)
    {
        var t = _backend.Allocate(rows, cols);
        _backend.Upload(values, t);
        return t;
    }
}
