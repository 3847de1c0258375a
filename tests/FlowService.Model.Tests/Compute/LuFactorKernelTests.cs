using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute;

/// <summary>
/// The CPU backend's LU composition W = P · L · (U + diag(exp s)) and its gradient, against their element-by-element
/// definitions in double (each output a sum over k ascending, as written below): the same bits, for sizes on both sides of
/// the SIMD width and with gradients accumulated onto what the tensors held.
/// </summary>
public sealed class LuFactorKernelTests
{
    private static readonly CpuBackend Backend = CpuBackend.Instance;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(7)]
    [InlineData(16)]
    [InlineData(33)]
    [InlineData(64)]
    public void Composition_and_its_gradient_are_the_definitions_to_the_bit(int d)
    {
        var random = new Random(d);
        var (lower, upper, logScale) = (Random(random, d, d), Random(random, d, d), Random(random, 1, d));
        var permutation = Enumerable.Range(0, d).OrderBy(_ => random.Next()).ToArray();

        var weight = Backend.Allocate(d, d);
        Backend.LuCompose(lower, upper, logScale, permutation, weight);
        var expectedWeight = new float[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                expectedWeight[i * d + j] = (float)ProductElement(lower, upper, logScale, d, permutation[i], j);
        Assert.Equal(expectedWeight, weight.Span().ToArray());

        var dWeight = Random(random, d, d);
        var (dLower, dUpper, dLogScale) = (Random(random, d, d), Random(random, d, d), Random(random, 1, d));
        var expected = ReferenceBackward(lower, upper, logScale, permutation, dWeight, dLower.Span().ToArray(), dUpper.Span().ToArray(), dLogScale.Span().ToArray());
        Backend.LuComposeBackward(lower, upper, logScale, permutation, dWeight, dLower, dUpper, dLogScale);
        Assert.Equal(expected.DLower, dLower.Span().ToArray());
        Assert.Equal(expected.DUpper, dUpper.Span().ToArray());
        Assert.Equal(expected.DLogScale, dLogScale.Span().ToArray());
    }

    private static double M(Tensor upper, Tensor logScale, int d, int a, int b) =>
        a == b ? Math.Exp(logScale.Span()[a]) : a < b ? upper.Span()[a * d + b] : 0.0;

    private static double L(Tensor lower, int d, int a, int b) => a == b ? 1.0 : a > b ? lower.Span()[a * d + b] : 0.0;

    private static double ProductElement(Tensor lower, Tensor upper, Tensor logScale, int d, int i, int j)
    {
        double sum = 0;
        for (int k = 0; k <= Math.Min(i, j); k++)
            sum += L(lower, d, i, k) * M(upper, logScale, d, k, j);
        return sum;
    }

    /// <summary>dA[permutation[i], :] = dW[i, :]; dL[i, k] (k &lt; i) += Σ_{j ≥ k} dA[i, j] M[k, j]; for k ≥ i, Σ_{a ≥ i} L[a, i] dA[a, k]
    /// goes to dU[i, k], or times exp(s_i) to ds_i on the diagonal.</summary>
    private static (float[] DLower, float[] DUpper, float[] DLogScale) ReferenceBackward(Tensor lower, Tensor upper, Tensor logScale, int[] permutation,
        Tensor dWeight, float[] dl, float[] du, float[] ds)
    {
        int d = permutation.Length;
        var dA = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                dA[permutation[i] * d + j] = dWeight.Span()[i * d + j];
        for (int i = 0; i < d; i++)
            for (int k = 0; k < d; k++)
            {
                double sum = 0;
                if (k < i)
                {
                    for (int j = k; j < d; j++)
                        sum += dA[i * d + j] * M(upper, logScale, d, k, j);
                    dl[i * d + k] += (float)sum;
                    continue;
                }
                for (int a = i; a < d; a++)
                    sum += L(lower, d, a, i) * dA[a * d + k];
                if (k == i)
                    ds[i] += (float)(sum * Math.Exp(logScale.Span()[i]));
                else
                    du[i * d + k] += (float)sum;
            }
        return (dl, du, ds);
    }

    private static Tensor Random(Random random, int rows, int cols)
    {
        var tensor = Backend.Allocate(rows, cols);
        var span = tensor.Span();
        for (int i = 0; i < span.Length; i++)
            span[i] = (float)(random.NextDouble() * 2 - 1);
        return tensor;
    }
}
