namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    public void AdamWStep(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWStepSettings settings)
    {
        RequireSameShape(parameters, gradients);
        RequireSameShape(parameters, firstMoment);
        RequireSameShape(parameters, secondMoment);
        Span<float> p = parameters.Span(), m = firstMoment.Span(), v = secondMoment.Span();
        ReadOnlySpan<float> g = gradients.Span();
        float beta1 = settings.Beta1, beta2 = settings.Beta2, oneMinusBeta1 = settings.OneMinusBeta1, oneMinusBeta2 = settings.OneMinusBeta2;
        float decay = settings.DecayFactor, stepSize = settings.StepSize, bias2Sqrt = settings.Bias2Sqrt;
        float eps = settings.Epsilon, scale = settings.GradientScale;
        // Scalar on purpose: each line is one torch in-place op on float32, so results match torch's
        // rounding; the arena is small next to the forward/backward work of a step.
        for (int i = 0; i < p.Length; i++)
        {
            float gi = g[i] * scale;
            float pi = p[i] * decay;
            float mi = m[i] * beta1 + gi * oneMinusBeta1;
            float vi = v[i] * beta2 + gi * gi * oneMinusBeta2;
            float denom = MathF.Sqrt(vi) / bias2Sqrt + eps;
            p[i] = pi - stepSize * (mi / denom);
            m[i] = mi;
            v[i] = vi;
        }
    }

    public void SumOfSquares(Tensor x, Tensor result)
    {
        RequireLength(result, 1);
        // Double accumulation: the norm decides clipping and divergence, so it should not drift with the arena's size.
        double sum = 0;
        foreach (float value in x.Span())
            sum += (double)value * value;
        result.Span()[0] = (float)sum;
    }
}
