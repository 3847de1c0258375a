using System.Numerics.Tensors;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// A layer's forward epilogue, y = f(y + residual + bias), applied by a convolution to each block of its output rows
/// right after storing them, while they are in cache, instead of in passes of its own over the whole output
/// (<see cref="DirectConvolution3x3"/>, <see cref="PointwiseConvolution"/>).
/// </summary>
/// <remarks>
/// Rows are pixels of <c>channels</c> values. <see cref="Apply"/> gets a block by its address inside the output, so the
/// residual (laid out as the output) is read at the same offset. The pointers are the caller's, pinned for the call.
/// </remarks>
internal readonly unsafe struct ConvolutionEpilogue
{
    private readonly float* _output;
    private readonly int _channels;
    private readonly float* _bias;
    private readonly FusedActivation _activation;
    private readonly float* _residual;

    /// <summary>y = f(y + residual + bias) on <paramref name="output"/>; a null <paramref name="bias"/> leaves out the bias and f, a null residual the residual.</summary>
    public ConvolutionEpilogue(float* output, int channels, float* bias, FusedActivation activation, float* residual = null)
    {
        _output = output;
        _channels = channels;
        _bias = bias;
        _activation = activation;
        _residual = residual;
    }

    /// <summary>The epilogue on <paramref name="pixels"/> consecutive output rows starting at <paramref name="rows"/>.</summary>
    public void Apply(float* rows, int pixels)
    {
        if (_bias is null && _residual is null)
            return;
        var values = new Span<float>(rows, pixels * _channels);
        if (_residual is not null)
            TensorPrimitives.Add(values, new ReadOnlySpan<float>(_residual + (rows - _output), values.Length), values);
        if (_bias is not null)
            BiasActivation.Forward(values, new ReadOnlySpan<float>(_bias, _channels), values, _activation);
    }
}
