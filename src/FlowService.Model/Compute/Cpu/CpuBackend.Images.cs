using System.Numerics.Tensors;

namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    /// <summary>How far inside (0, 1) the logit's inverse keeps its sigmoid (≈ 16 float ulps of a value near 1).</summary>
    public const double LogitInverseMargin = 2e-6;

    public void Im2Col3x3(Tensor pixels, int height, int width, Tensor columns)
    {
        int channels = RequireImageColumns(pixels, height, width, columns);
        var source = pixels.Span();
        var target = columns.Span();
        int images = pixels.Rows / (height * width);
        for (int b = 0; b < images; b++)
            for (int h = 0; h < height; h++)
                for (int w = 0; w < width; w++)
                {
                    int row = (b * height + h) * width + w;
                    var columnRow = target.Slice(row * 9 * channels, 9 * channels);
                    for (int ky = 0; ky < 3; ky++)
                    {
                        int sh = h + ky - 1;
                        for (int kx = 0; kx < 3; kx++)
                        {
                            int sw = w + kx - 1;
                            var tap = columnRow.Slice((ky * 3 + kx) * channels, channels);
                            if ((uint)sh < (uint)height && (uint)sw < (uint)width)
                                source.Slice(((b * height + sh) * width + sw) * channels, channels).CopyTo(tap);
                            else
                                tap.Clear();
                        }
                    }
                }
    }

    public void Col2Im3x3(Tensor columns, int height, int width, Tensor pixels)
    {
        int channels = RequireImageColumns(pixels, height, width, columns);
        var source = columns.Span();
        var target = pixels.Span();
        target.Clear();
        int images = pixels.Rows / (height * width);
        for (int b = 0; b < images; b++)
            for (int h = 0; h < height; h++)
                for (int w = 0; w < width; w++)
                {
                    int row = (b * height + h) * width + w;
                    var columnRow = source.Slice(row * 9 * channels, 9 * channels);
                    for (int ky = 0; ky < 3; ky++)
                    {
                        int sh = h + ky - 1;
                        if ((uint)sh >= (uint)height)
                            continue;
                        for (int kx = 0; kx < 3; kx++)
                        {
                            int sw = w + kx - 1;
                            if ((uint)sw >= (uint)width)
                                continue;
                            var pixel = target.Slice(((b * height + sh) * width + sw) * channels, channels);
                            TensorPrimitives.Add(pixel, columnRow.Slice((ky * 3 + kx) * channels, channels), pixel);
                        }
                    }
                }
    }

    public bool TryConvolve3x3(Tensor pixels, int height, int width, Tensor weight, Tensor output, Tensor? bias = null,
        FusedActivation activation = FusedActivation.Identity)
    {
        if (!DirectConvolutionRuns(pixels, height, width, weight, output))
            return false;
        if (bias is not null)
            RequireBiasRow(bias, output.Cols);
        DirectConvolution3x3.Forward(pixels.Span(), pixels.Rows / (height * width), height, width, pixels.Cols, weight.Span(), output.Cols,
            transposedWeight: false, output.Span(), bias is null ? ReadOnlySpan<float>.Empty : bias.Span(), activation);
        return true;
    }

    public bool TryConvolve1x1(Tensor pixels, Tensor weight, Tensor output, Tensor? bias = null,
        FusedActivation activation = FusedActivation.Identity, Tensor? residual = null)
    {
        if (GemmImplementation != GemmImplementation.Managed || !PointwiseConvolution.Supports(pixels.Rows))
            return false;
        if (weight.Rows != output.Cols || weight.Cols != pixels.Cols)
            throw new ArgumentException($"A 1x1 convolution from {pixels.Cols} to {output.Cols} channels needs a {output.Cols}x{pixels.Cols} weight, not {weight.Rows}x{weight.Cols}.", nameof(weight));
        if (output.Rows != pixels.Rows)
            throw new ArgumentException($"{pixels.Rows} input and {output.Rows} output pixel rows differ.", nameof(output));
        if (bias is not null)
            RequireBiasRow(bias, output.Cols);
        if (residual is not null)
            RequireSameShape(residual, output);
        PointwiseConvolution.Forward(pixels.Span(), pixels.Rows, pixels.Cols, weight.Span(), output.Cols, output.Span(),
            bias is null ? ReadOnlySpan<float>.Empty : bias.Span(), activation, residual is null ? ReadOnlySpan<float>.Empty : residual.Span());
        return true;
    }

    public bool TryConvolve3x3Backward(Tensor pixels, int height, int width, Tensor weight, Tensor dOutput, Tensor dWeight, Tensor? dPixels)
    {
        if (!DirectConvolutionRuns(pixels, height, width, weight, dOutput))
            return false;
        if (dWeight.Rows != weight.Rows || dWeight.Cols != weight.Cols || (dPixels is not null && (dPixels.Rows != pixels.Rows || dPixels.Cols != pixels.Cols)))
            throw new ArgumentException("dWeight must have the weight's shape and dPixels the pixels'.");
        DirectConvolution3x3.Backward(pixels.Span(), dOutput.Span(), pixels.Rows / (height * width), height, width, pixels.Cols, weight.Span(), dOutput.Cols,
            dWeight.Span(), dPixels is null ? Span<float>.Empty : dPixels.Span());
        return true;
    }

    /// <summary>The managed GEMM's tiles run the direct convolution; OpenBLAS and the reference GEMM keep im2col (they are the cross-checks).</summary>
    private bool DirectConvolutionRuns(Tensor pixels, int height, int width, Tensor weight, Tensor output)
    {
        if (GemmImplementation != GemmImplementation.Managed || !DirectConvolution3x3.Supports(width))
            return false;
        if (weight.Rows != output.Cols || weight.Cols != 9 * pixels.Cols)
            throw new ArgumentException($"A 3x3 convolution from {pixels.Cols} to {output.Cols} channels needs a {output.Cols}x{9 * pixels.Cols} weight, not {weight.Rows}x{weight.Cols}.", nameof(weight));
        if (output.Rows != pixels.Rows || pixels.Rows % (height * width) != 0)
            throw new ArgumentException($"{pixels.Rows} input and {output.Rows} output pixel rows are not the same whole number of {height}x{width} images.", nameof(output));
        return true;
    }

    public void LogitForward(Tensor x, float alpha, Tensor z, Tensor logDet)
    {
        RequireSameShape(x, z);
        RequirePerRow(logDet, x.Rows);
        RequireLogitAlpha(alpha);
        double scale = 1.0 - 2.0 * alpha, logScale = Math.Log(scale);
        var sums = logDet.Span();
        for (int r = 0; r < x.Rows; r++)
        {
            var xr = x.Row(r);
            var zr = z.Row(r);
            double sum = 0;
            for (int j = 0; j < xr.Length; j++)
            {
                double s = alpha + scale * xr[j];
                double logS = Math.Log(s), logComplement = Math.Log(1.0 - s);
                zr[j] = (float)(logS - logComplement);
                sum += logScale - logS - logComplement;
            }
            sums[r] += (float)sum;
        }
    }

    /// <summary>
    /// The sigmoid is kept in [<see cref="LogitInverseMargin"/>, 1 - margin], not merely inside (0, 1): in a flow the logit
    /// follows the fixed scaling x / range, whose inverse and forward (an exp of the log-scale, in float) move a sample by
    /// a few ulps on its way out and back in; a sample one ulp inside the edge came back on or past it and scored NaN.
    /// </summary>
    /// <remarks>
    /// x stays inside the logit's domain (0 &lt; α + (1 - 2α)x &lt; 1) with room for that rounding, so LogitForward of it,
    /// after the scaling's round trip, is finite. The margin changes only codes with |z| &gt; 13.1, whose x lies within
    /// 2·10⁻⁶ (of the range) of the support's edge: beyond the last pixel value, and where float x no longer resolves z.
    /// </remarks>
    public void LogitInverse(Tensor z, float alpha, Tensor x)
    {
        RequireSameShape(x, z);
        RequireLogitAlpha(alpha);
        double scale = 1.0 - 2.0 * alpha;
        var zs = z.Span();
        var xs = x.Span();
        for (int i = 0; i < zs.Length; i++)
        {
            double s = Math.Clamp(1.0 / (1.0 + Math.Exp(-(double)zs[i])), LogitInverseMargin, 1.0 - LogitInverseMargin);
            float value = (float)((s - alpha) / scale);
            // A saturated sigmoid (|z| > ~17 in float terms) or the rounding to float can land x on or past the edge of the
            // logit's domain, where LogitForward gives ±∞ and a flow's log p of its own sample turns NaN: step inside.
            while (alpha + scale * value >= 1.0)
                value = MathF.BitDecrement(value);
            while (alpha + scale * value <= 0.0)
                value = MathF.BitIncrement(value);
            xs[i] = value;
        }
    }

    public void LogitBackward(Tensor x, float alpha, Tensor dz, Tensor dLogDet, Tensor dx)
    {
        RequireSameShape(x, dz);
        RequireSameShape(x, dx);
        RequirePerRow(dLogDet, x.Rows);
        RequireLogitAlpha(alpha);
        double scale = 1.0 - 2.0 * alpha;
        var weights = dLogDet.Span();
        for (int r = 0; r < x.Rows; r++)
        {
            var xr = x.Row(r);
            var dzr = dz.Row(r);
            var dxr = dx.Row(r);
            double weight = weights[r];
            for (int j = 0; j < xr.Length; j++)
            {
                double s = alpha + scale * xr[j];
                double inverse = 1.0 / (s * (1.0 - s));
                // dz/dx = (1-2α)/(s(1-s)); d/dx of -log s - log(1-s) = (1-2α)(2s-1)/(s(1-s)).
                dxr[j] = (float)(scale * inverse * (dzr[j] + weight * (2.0 * s - 1.0)));
            }
        }
    }

    private static int RequireImageColumns(Tensor pixels, int height, int width, Tensor columns)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        if (pixels.Rows % (height * width) != 0)
            throw new ArgumentException($"{pixels.Rows} pixel rows are not a whole number of {height}x{width} images.", nameof(pixels));
        if (columns.Rows != pixels.Rows || columns.Cols != 9 * pixels.Cols)
            throw new ArgumentException($"3x3 columns of {pixels.Rows}x{pixels.Cols} pixels must be {pixels.Rows}x{9 * pixels.Cols}, not {columns.Rows}x{columns.Cols}.", nameof(columns));
        return pixels.Cols;
    }

    private static void RequireLogitAlpha(float alpha)
    {
        if (!(alpha >= 0f && alpha < 0.5f))
            throw new ArgumentOutOfRangeException(nameof(alpha), $"The logit's alpha must be in [0, 0.5), not {alpha}.");
    }
}
