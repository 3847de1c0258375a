namespace FlowService.Model.Flows;

/// <summary>
/// Uniform dequantization of discrete pixels (Theis et al. 2016; Dinh et al. 2017, section 4.1): a
/// flow is a density of continuous values, so each training image x ∈ {0, …, 255}^D is replaced by
/// x + u, u ~ U[0, 1)^D, fresh every time it is seen. An image flow then divides by 256 inside
/// itself (a transform with log|det| = -D ln 256), so its log p is a density in pixel units and
/// log P(x) ≥ E_u log p(x + u) bounds the discrete log-likelihood (<see cref="BitsPerDim"/>).
/// </summary>
public static class UniformDequantization
{
    /// <summary>pixels[i] += u_i with u_i ~ U[0, 1) from <paramref name="random"/>.</summary>
    public static void AddNoise(Span<float> pixels, Random random)
    {
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] += (float)random.NextDouble();
    }

    /// <summary>The noise-free deterministic stand-in for scoring: pixels[i] += ½, the centre of each pixel's unit cell.</summary>
    public static void AddHalf(Span<float> pixels)
    {
        for (int i = 0; i < pixels.Length; i++)
            pixels[i] += 0.5f;
    }
}
