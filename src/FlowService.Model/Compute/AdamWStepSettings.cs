namespace FlowService.Model.Compute;

/// <summary>
/// The scalars of one AdamW step (see <see cref="IBackend.AdamWStep"/>). The bias corrections are
/// computed in double on the host, as torch does, and passed in as floats.
/// </summary>
/// <remarks>
/// 1 − β1 and 1 − β2 are also computed in double and rounded once, as torch passes them (Python
/// floats) to its float32 kernels: 1f − 0.999f would differ from torch's 0.001f in the last bits.
/// </remarks>
public readonly record struct AdamWStepSettings(
    float Beta1, float Beta2, float OneMinusBeta1, float OneMinusBeta2, float Epsilon, float DecayFactor, float StepSize, float Bias2Sqrt, float GradientScale)
{
    /// <summary>The settings of step <paramref name="step"/> (1-based) as torch.optim.AdamW computes them.</summary>
    public static AdamWStepSettings For(int step, double learningRate, double beta1, double beta2, double epsilon, double weightDecay, float gradientScale = 1f)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        double bias1 = 1 - Math.Pow(beta1, step);
        double bias2 = 1 - Math.Pow(beta2, step);
        return new AdamWStepSettings((float)beta1, (float)beta2, (float)(1 - beta1), (float)(1 - beta2), (float)epsilon, (float)(1 - learningRate * weightDecay),
            (float)(learningRate / bias1), (float)Math.Sqrt(bias2), gradientScale);
    }
}
