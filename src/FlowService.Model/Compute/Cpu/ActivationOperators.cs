using System.Runtime.Intrinsics;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// One activation at three widths (scalar, Vector256, Vector512), System.Numerics.Tensors style, so
/// one generic driver in <see cref="BiasActivation"/> serves every activation and the JIT specializes
/// it. The derivative is written through the output y = f(x), which is what a layer keeps for backward.
/// </summary>
internal interface IActivationOperator
{
    static abstract float Invoke(float x);

    static abstract Vector256<float> Invoke(Vector256<float> x);

    static abstract Vector512<float> Invoke(Vector512<float> x);

    static abstract float DerivativeFromOutput(float y);

    static abstract Vector256<float> DerivativeFromOutput(Vector256<float> y);

    static abstract Vector512<float> DerivativeFromOutput(Vector512<float> y);
}

internal readonly struct IdentityOperator : IActivationOperator
{
    public static float Invoke(float x) => x;
    public static Vector256<float> Invoke(Vector256<float> x) => x;
    public static Vector512<float> Invoke(Vector512<float> x) => x;
    public static float DerivativeFromOutput(float y) => 1f;
    public static Vector256<float> DerivativeFromOutput(Vector256<float> y) => Vector256<float>.One;
    public static Vector512<float> DerivativeFromOutput(Vector512<float> y) => Vector512<float>.One;
}

internal readonly struct ReluOperator : IActivationOperator
{
    public static float Invoke(float x) => x > 0f ? x : 0f;
    public static Vector256<float> Invoke(Vector256<float> x) => Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, Vector256<float>.Zero);
    public static Vector512<float> Invoke(Vector512<float> x) => Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, Vector512<float>.Zero);
    public static float DerivativeFromOutput(float y) => y > 0f ? 1f : 0f;
    public static Vector256<float> DerivativeFromOutput(Vector256<float> y) => Vector256.GreaterThan(y, Vector256<float>.Zero) & Vector256<float>.One;
    public static Vector512<float> DerivativeFromOutput(Vector512<float> y) => Vector512.GreaterThan(y, Vector512<float>.Zero) & Vector512<float>.One;
}

/// <summary>tanh(x) = 1 − 2 / (e²ˣ + 1): exact limits ±1 (e²ˣ overflows to ∞ or underflows to 0), absolute error near 1e-7.</summary>
internal readonly struct TanhOperator : IActivationOperator
{
    public static float Invoke(float x) => MathF.Tanh(x);
    public static Vector256<float> Invoke(Vector256<float> x) =>
        Vector256<float>.One - Vector256.Create(2f) / (Vector256.Exp(x + x) + Vector256<float>.One);
    public static Vector512<float> Invoke(Vector512<float> x) =>
        Vector512<float>.One - Vector512.Create(2f) / (Vector512.Exp(x + x) + Vector512<float>.One);
    public static float DerivativeFromOutput(float y) => 1f - y * y;
    public static Vector256<float> DerivativeFromOutput(Vector256<float> y) => Vector256<float>.One - y * y;
    public static Vector512<float> DerivativeFromOutput(Vector512<float> y) => Vector512<float>.One - y * y;
}

/// <summary>ELU with alpha = 1; its derivative is 1 for y &gt; 0 and y + 1 = eˣ otherwise.</summary>
internal readonly struct EluOperator : IActivationOperator
{
    public static float Invoke(float x) => x > 0f ? x : MathF.Exp(x) - 1f;
    public static Vector256<float> Invoke(Vector256<float> x) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256<float>.Zero), x, Vector256.Exp(Vector256.Min(x, Vector256<float>.Zero)) - Vector256<float>.One);
    public static Vector512<float> Invoke(Vector512<float> x) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(x, Vector512<float>.Zero), x, Vector512.Exp(Vector512.Min(x, Vector512<float>.Zero)) - Vector512<float>.One);
    public static float DerivativeFromOutput(float y) => y > 0f ? 1f : y + 1f;
    public static Vector256<float> DerivativeFromOutput(Vector256<float> y) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<float>.Zero), Vector256<float>.One, y + Vector256<float>.One);
    public static Vector512<float> DerivativeFromOutput(Vector512<float> y) =>
        Vector512.ConditionalSelect(Vector512.GreaterThan(y, Vector512<float>.Zero), Vector512<float>.One, y + Vector512<float>.One);
}
