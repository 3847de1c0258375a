using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// The fixed normalization z = (x - mean) / std per column, fitted once on the training data. It
/// is the first transform of every flow, so log p is an exact density in the client's units:
/// log|det| = -Σ_j log std_j. No trainable parameters; mean and std travel with the checkpoint.
/// </summary>
public sealed class Standardization : ITransform
{
    private readonly float[] _mean;
    private readonly float[] _std;
    private readonly Dictionary<IBackend, (Tensor Shift, Tensor LogScale)> _tensors = new();

    public Standardization(IReadOnlyList<float> mean, IReadOnlyList<float> std)
    {
        if (mean.Count == 0 || mean.Count != std.Count)
            throw new ArgumentException($"Mean and std need the same positive length, not {mean.Count} and {std.Count}.");
        for (int j = 0; j < std.Count; j++)
            if (!(std[j] > 0f) || !float.IsFinite(std[j]) || !float.IsFinite(mean[j]))
                throw new ArgumentException($"Column {j}: mean {mean[j]} and std {std[j]} must be finite, std positive.");
        _mean = mean.ToArray();
        _std = std.ToArray();
    }

    /// <summary>
    /// Column means and standard deviations (population, in double) of row-major
    /// <paramref name="data"/>. A constant column gets std 1, so it is shifted but not blown up.
    /// </summary>
    public static Standardization Fit(ReadOnlySpan<float> data, int features)
    {
        if (features < 1 || data.Length == 0 || data.Length % features != 0)
            throw new ArgumentException($"Data of {data.Length} floats is not a positive number of rows of {features} features.");
        int rows = data.Length / features;
        var sum = new double[features];
        var squares = new double[features];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < features; j++)
                sum[j] += data[r * features + j];
        var mean = new float[features];
        for (int j = 0; j < features; j++)
            mean[j] = (float)(sum[j] / rows);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < features; j++)
            {
                double centered = data[r * features + j] - sum[j] / rows;
                squares[j] += centered * centered;
            }
        var std = new float[features];
        for (int j = 0; j < features; j++)
        {
            double s = Math.Sqrt(squares[j] / rows);
            std[j] = s > 1e-12 && double.IsFinite(s) ? (float)s : 1f;
        }
        return new Standardization(mean, std);
    }

    public IReadOnlyList<float> Mean => _mean;

    public IReadOnlyList<float> Std => _std;

    public int Features => _mean.Length;

    public void DeclareParameters(ParameterScope scope)
    {
    }

    public void InitializeParameters(ParameterInitializer initializer)
    {
    }

    public void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet)
    {
        var (shift, logScale) = Tensors(context.Backend);
        context.Backend.ColumnAffineForward(x, shift, logScale, y, logDet);
    }

    public void Inverse(FlowContext context, Tensor y, Tensor x)
    {
        var (shift, logScale) = Tensors(context.Backend);
        context.Backend.ColumnAffineInverse(y, shift, logScale, x);
    }

    public void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx)
    {
        var (shift, logScale) = Tensors(context.Backend);
        // dx does not depend on x for an affine map; dy itself stands in for the input.
        context.Backend.ColumnAffineBackward(dy, shift, logScale, dy, dLogDet, dx, null, null);
    }

    /// <summary>shift = -mean and logScale = -log std on <paramref name="backend"/>, uploaded once per backend.</summary>
    private (Tensor Shift, Tensor LogScale) Tensors(IBackend backend)
    {
        lock (_tensors)
        {
            if (_tensors.TryGetValue(backend, out var tensors))
                return tensors;
            var shift = backend.Allocate(1, Features);
            var logScale = backend.Allocate(1, Features);
            backend.Upload(_mean.Select(m => -m).ToArray(), shift);
            backend.Upload(_std.Select(s => -MathF.Log(s)).ToArray(), logScale);
            tensors = (shift, logScale);
            _tensors.Add(backend, tensors);
            return tensors;
        }
    }
}
