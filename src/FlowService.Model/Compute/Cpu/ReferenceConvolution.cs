namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The naive direct 2-D convolution (stride 1, zero padding k/2, double accumulation) that the
/// im2col + GEMM path of <see cref="Neural.Conv2d"/> is tested against. Images are pixel rows
/// (B·H·W) x C, channels last; the weight is [out, k·k·in] in (ky, kx, in) order.
/// </summary>
public static class ReferenceConvolution
{
    /// <summary>y[(b,h,w), o] = Σ_{ky,kx,i} w[o, (ky·k + kx)·in + i] · x[(b, h+ky-k/2, w+kx-k/2), i] (no bias).</summary>
    public static double[] Forward(ReadOnlySpan<float> x, int images, int height, int width, int inChannels, ReadOnlySpan<float> weight, int outChannels, int kernel)
    {
        var y = new double[images * height * width * outChannels];
        int half = kernel / 2;
        for (int b = 0; b < images; b++)
            for (int h = 0; h < height; h++)
                for (int w = 0; w < width; w++)
                    for (int o = 0; o < outChannels; o++)
                    {
                        double sum = 0;
                        for (int ky = 0; ky < kernel; ky++)
                            for (int kx = 0; kx < kernel; kx++)
                            {
                                int sh = h + ky - half, sw = w + kx - half;
                                if (sh < 0 || sh >= height || sw < 0 || sw >= width)
                                    continue;
                                for (int i = 0; i < inChannels; i++)
                                    sum += (double)weight[o * kernel * kernel * inChannels + (ky * kernel + kx) * inChannels + i]
                                        * x[((b * height + sh) * width + sw) * inChannels + i];
                            }
                        y[((b * height + h) * width + w) * outChannels + o] = sum;
                    }
        return y;
    }

    /// <summary>dL/dx and dL/dw of <see cref="Forward"/> given dL/dy (same layouts).</summary>
    public static (double[] Dx, double[] DWeight) Backward(ReadOnlySpan<float> x, int images, int height, int width, int inChannels,
        ReadOnlySpan<float> weight, int outChannels, int kernel, ReadOnlySpan<float> dy)
    {
        var dx = new double[x.Length];
        var dWeight = new double[weight.Length];
        int half = kernel / 2;
        for (int b = 0; b < images; b++)
            for (int h = 0; h < height; h++)
                for (int w = 0; w < width; w++)
                    for (int o = 0; o < outChannels; o++)
                    {
                        double g = dy[((b * height + h) * width + w) * outChannels + o];
                        for (int ky = 0; ky < kernel; ky++)
                            for (int kx = 0; kx < kernel; kx++)
                            {
                                int sh = h + ky - half, sw = w + kx - half;
                                if (sh < 0 || sh >= height || sw < 0 || sw >= width)
                                    continue;
                                for (int i = 0; i < inChannels; i++)
                                {
                                    int wi = o * kernel * kernel * inChannels + (ky * kernel + kx) * inChannels + i;
                                    int xi = ((b * height + sh) * width + sw) * inChannels + i;
                                    dx[xi] += g * weight[wi];
                                    dWeight[wi] += g * x[xi];
                                }
                            }
                    }
        return (dx, dWeight);
    }
}
