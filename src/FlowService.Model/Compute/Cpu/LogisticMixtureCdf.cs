namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// The scalar math of Flow++'s logistic-mixture CDF coupling (Ho et al. 2019, section 3.1) for one element:
/// y = σ⁻¹(C(x)) · e^a + b with C(x) = Σ_k π_k σ((x - μ_k) / s_k), π = softmax(logits), s_k = e^{max(ℓ_k, -7)}
/// and a = c · tanh(rawA / c) (the affine leaf's soft clamp). Everything is computed in log space in double:
/// log C = LSE_k(log π_k + log σ(z_k)), log(1 - C) = LSE_k(log π_k + log σ(-z_k)), so σ⁻¹(C) = log C - log(1 - C)
/// stays exact deep in the tails where C rounds to 0 or 1, and log|dy/dx| = a + log C'(x) - log C - log(1 - C).
/// All-zero parameters are the identity (every component is the standard logistic, whose CDF σ⁻¹ undoes).
/// </summary>
internal static class LogisticMixtureCdf
{
    /// <summary>Flow++'s floor on log s: narrower components make C steep enough to overflow the log-det.</summary>
    public const double MinLogScale = -7;

    /// <summary>Bisection stops when the bracket is this narrow relative to max(1, |x|), far below float32 resolution.</summary>
    public const double InverseRelativeTolerance = 1e-12;

    /// <summary>The most bisection steps (the bracket halves each step; 200 reach the tolerance from any finite bracket).</summary>
    public const int MaxInverseSteps = 200;

    public static double LogSigmoid(double z) => z >= 0 ? -Log1pExp(-z) : z - Log1pExp(z);

    private static double Log1pExp(double z) => z > 36 ? z : Math.Log(1 + Math.Exp(z));

    public static double SoftClamp(double raw, double clamp) => clamp * Math.Tanh(raw / clamp);

    /// <summary>log π from the logits (log-softmax).</summary>
    public static void LogWeights(ReadOnlySpan<float> logits, Span<double> logPi)
    {
        double max = double.NegativeInfinity;
        foreach (float l in logits)
            max = Math.Max(max, l);
        double sum = 0;
        foreach (float l in logits)
            sum += Math.Exp(l - max);
        double log = max + Math.Log(sum);
        for (int k = 0; k < logits.Length; k++)
            logPi[k] = logits[k] - log;
    }

    /// <summary>σ⁻¹(C(x)) = log C - log(1 - C), and log C'(x) - log C - log(1 - C) (the mixture's part of log|dy/dx|).</summary>
    public static (double Logit, double LogDerivative) Evaluate(double x, ReadOnlySpan<double> logPi, ReadOnlySpan<float> means, ReadOnlySpan<float> logScales)
    {
        int k = logPi.Length;
        Span<double> upper = stackalloc double[k];
        Span<double> lower = stackalloc double[k];
        Span<double> slope = stackalloc double[k];
        for (int i = 0; i < k; i++)
        {
            double logScale = Math.Max(logScales[i], MinLogScale);
            double z = (x - means[i]) * Math.Exp(-logScale);
            double logSigma = LogSigmoid(z), logSigmaBar = LogSigmoid(-z);
            upper[i] = logPi[i] + logSigma;
            lower[i] = logPi[i] + logSigmaBar;
            slope[i] = logPi[i] + logSigma + logSigmaBar - logScale;
        }
        double logC = LogSumExp(upper), logCBar = LogSumExp(lower);
        return (logC - logCBar, LogSumExp(slope) - logC - logCBar);
    }

    /// <summary>x with σ⁻¹(C(x)) = <paramref name="logit"/>, by bisection on [min_k(μ_k + s_k u), max_k(μ_k + s_k u)], which brackets it exactly.</summary>
    public static double Invert(double logit, ReadOnlySpan<double> logPi, ReadOnlySpan<float> means, ReadOnlySpan<float> logScales)
    {
        double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
        for (int i = 0; i < logPi.Length; i++)
        {
            double candidate = means[i] + Math.Exp(Math.Max(logScales[i], MinLogScale)) * logit;
            lo = Math.Min(lo, candidate);
            hi = Math.Max(hi, candidate);
        }
        for (int step = 0; step < MaxInverseSteps && hi - lo > InverseRelativeTolerance * Math.Max(1, Math.Abs(lo)); step++)
        {
            double mid = 0.5 * (lo + hi);
            if (Evaluate(mid, logPi, means, logScales).Logit < logit)
                lo = mid;
            else
                hi = mid;
        }
        return 0.5 * (lo + hi);
    }

    /// <summary>
    /// Gradients of L through one element, given gY = dL/dy and gL = dL/d(log|dy/dx|): writes dL/dx and the raw
    /// parameters' gradients (dL/drawA, dL/db, dL/dlogits, dL/dmeans, dL/dlogScales; the clamped log-scales get none).
    /// </summary>
    public static double Backward(double x, double rawA, double clamp, ReadOnlySpan<float> logits, ReadOnlySpan<float> means, ReadOnlySpan<float> logScales,
        double gY, double gL, out double gRawA, out double gB, Span<double> gLogits, Span<double> gMeans, Span<double> gLogScales)
    {
        int k = logits.Length;
        Span<double> logPi = stackalloc double[k];
        LogWeights(logits, logPi);
        Span<double> z = stackalloc double[k];
        Span<double> upper = stackalloc double[k];
        Span<double> lower = stackalloc double[k];
        Span<double> slope = stackalloc double[k];
        Span<double> sigma = stackalloc double[k];
        for (int i = 0; i < k; i++)
        {
            double logScale = Math.Max(logScales[i], MinLogScale);
            z[i] = (x - means[i]) * Math.Exp(-logScale);
            double logSigma = LogSigmoid(z[i]), logSigmaBar = LogSigmoid(-z[i]);
            sigma[i] = Math.Exp(logSigma);
            upper[i] = logPi[i] + logSigma;
            lower[i] = logPi[i] + logSigmaBar;
            slope[i] = logPi[i] + logSigma + logSigmaBar - logScale;
        }
        double logC = LogSumExp(upper), logCBar = LogSumExp(lower), logSlope = LogSumExp(slope);
        double u = logC - logCBar;
        double a = SoftClamp(rawA, clamp), scale = Math.Exp(a);
        gB = gY;
        double gA = gY * u * scale + gL;
        double tanh = Math.Tanh(rawA / clamp);
        gRawA = gA * (1 - tanh * tanh);
        double gU = gY * scale;

        double gX = 0, gPiSum = 0;
        Span<double> gLogPi = stackalloc double[k];
        for (int i = 0; i < k; i++)
        {
            double logScale = Math.Max(logScales[i], MinLogScale);
            double alpha = Math.Exp(upper[i] - logC);          // ∂ log C / ∂ log π_i
            double beta = Math.Exp(lower[i] - logCBar);        // ∂ log(1 - C) / ∂ log π_i
            double r = Math.Exp(slope[i] - logSlope);          // ∂ log C' / ∂ log π_i
            double pOverC = Math.Exp(slope[i] + logScale - logC);       // π_i σ_i (1 - σ_i) / C
            double pOverCBar = Math.Exp(slope[i] + logScale - logCBar); // π_i σ_i (1 - σ_i) / (1 - C)
            // d/dz_i of u = log C - log(1 - C) and of the log-det's log C' - log C - log(1 - C).
            double gz = gU * (pOverC + pOverCBar) + gL * (r * (1 - 2 * sigma[i]) - pOverC + pOverCBar);
            double inverseScale = Math.Exp(-logScale);
            gX += gz * inverseScale;
            gMeans[i] = -gz * inverseScale;
            gLogScales[i] = logScales[i] > MinLogScale ? -gz * z[i] - gL * r : 0;
            gLogPi[i] = gU * (alpha - beta) + gL * (r - alpha - beta);
            gPiSum += gLogPi[i];
        }
        for (int i = 0; i < k; i++)
            gLogits[i] = gLogPi[i] - Math.Exp(logPi[i]) * gPiSum;
        return gX;
    }

    private static double LogSumExp(ReadOnlySpan<double> values)
    {
        double max = double.NegativeInfinity;
        foreach (double v in values)
            max = Math.Max(max, v);
        if (double.IsNegativeInfinity(max))
            return max;
        double sum = 0;
        foreach (double v in values)
            sum += Math.Exp(v - max);
        return max + Math.Log(sum);
    }
}
