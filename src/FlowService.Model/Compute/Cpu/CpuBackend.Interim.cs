namespace FlowService.Model.Compute.Cpu;

// INTERIM (autoregressive branch only, removed before delivery).
public sealed partial class CpuBackend
{
    public void InterimAddBias(Tensor y, Tensor bias)
    {
        var b = bias.Span();
        for (int r = 0; r < y.Rows; r++)
        {
            var row = y.Row(r);
            for (int j = 0; j < row.Length; j++) row[j] += b[j];
        }
    }

    public void InterimBiasGradient(Tensor dy, Tensor dBias)
    {
        var b = dBias.Span();
        for (int r = 0; r < dy.Rows; r++)
        {
            var row = dy.Row(r);
            for (int j = 0; j < row.Length; j++) b[j] += row[j];
        }
    }

    public void InterimRelu(Tensor x, Tensor y)
    {
        var xs = x.Span(); var ys = y.Span();
        for (int i = 0; i < xs.Length; i++) ys[i] = MathF.Max(xs[i], 0f);
    }

    public void InterimReluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        var xs = x.Span(); var g = dy.Span(); var o = dx.Span();
        for (int i = 0; i < xs.Length; i++) o[i] = xs[i] > 0f ? g[i] : 0f;
    }

    public void InterimCopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count)
    {
        for (int r = 0; r < source.Rows; r++)
            source.Row(r).Slice(sourceColumn, count).CopyTo(destination.Row(r).Slice(destinationColumn, count));
    }

    public void InterimAccumulate(Tensor source, Tensor destination)
    {
        var s = source.Span(); var d = destination.Span();
        for (int i = 0; i < s.Length; i++) d[i] += s[i];
    }
}
