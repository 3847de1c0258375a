using FlowService.Model.Compute;

namespace FlowService.Training.Optimization;

/// <summary>
/// Clipping by global norm with torch.nn.utils.clip_grad_norm_'s semantics: the norm is the 2-norm
/// of all gradients together, the coefficient is maxNorm / (norm + 1e-6) clamped to at most 1, and
/// the gradients are multiplied by it (here fused into the AdamW step as its gradient scale).
/// </summary>
public static class GradientClipping
{
    /// <summary>torch adds this to the norm before dividing, so a norm of exactly maxNorm still scales by slightly less than 1.</summary>
    public const double NormEpsilon = 1e-6;

    /// <summary>The global 2-norm of <paramref name="gradients"/> (one backend reduction, one float downloaded).</summary>
    public static double GlobalNorm(IBackend backend, Tensor gradients)
    {
        var result = backend.Allocate(1, 1);
        backend.SumOfSquares(gradients, result);
        Span<float> host = stackalloc float[1];
        backend.Download(result, host);
        return Math.Sqrt(host[0]);
    }

    /// <summary>The factor to multiply the gradients by: min(1, maxNorm / (norm + 1e-6)); 1 when <paramref name="maxNorm"/> is null.</summary>
    public static float Coefficient(double norm, double? maxNorm)
    {
        if (maxNorm is not { } max)
            return 1f;
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(max);
        return (float)Math.Min(1.0, max / (norm + NormEpsilon));
    }
}
