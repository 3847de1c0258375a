namespace FlowService.Training.Engine;

/// <summary>
/// A trained flow as the service uses it: exact log p(x), latent codes, the exact inverse and
/// sampling, all in the client's units (any standardization is part of the flow). Row-major float32;
/// <paramref name="context"/> is rows x <see cref="ContextFeatures"/> (empty for unconditional flows).
/// Implementations are safe to call from several requests at once.
/// </summary>
public interface IDensityFlow
{
    int Features { get; }

    int ContextFeatures { get; }

    void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb);

    void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet);

    void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x);

    /// <summary>n samples from base noise N(0, temperature² I) pushed through the inverse; same seed, same samples.</summary>
    void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x);
}
