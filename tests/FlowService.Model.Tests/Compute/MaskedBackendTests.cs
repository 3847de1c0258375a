using FlowService.Model.Compute;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Tests.Compute;

/// <summary>The masked-weight ops against a scalar loop at every length 0..257, in place, and with mismatched shapes.</summary>
public sealed class MaskedBackendTests
{
    private static readonly CpuBackend Backend = CpuBackend.Instance;

    [Fact]
    public void MaskWeights_and_AccumulateMaskedGradient_match_a_scalar_loop_at_every_length()
    {
        var random = new Random(5);
        for (int n = 0; n <= 257; n++)
        {
            var weight = Random(n, random);
            var mask = Backend.Allocate(1, n);
            var m = mask.Span();
            for (int i = 0; i < n; i++)
                m[i] = random.Next(2);
            var destination = Random(n, random);
            var before = destination.Span().ToArray();
            var masked = Backend.Allocate(1, n);

            Backend.MaskWeights(weight, mask, masked);
            Backend.AccumulateMaskedGradient(weight, mask, destination);

            for (int i = 0; i < n; i++)
            {
                Assert.Equal(weight.Span()[i] * m[i], masked.Span()[i]);
                Assert.Equal(before[i] + weight.Span()[i] * m[i], destination.Span()[i], 6);
            }
            // In place: the weight tensor masked onto itself.
            Backend.MaskWeights(weight, mask, weight);
            Assert.Equal(masked.Span().ToArray(), weight.Span().ToArray());
        }
    }

    [Fact]
    public void Rejects_a_destination_of_another_shape()
    {
        var a = Backend.Allocate(3, 4);
        Assert.Throws<ArgumentException>(() => Backend.MaskWeights(a, a, Backend.Allocate(3, 3)));
        Assert.Throws<ArgumentException>(() => Backend.AccumulateMaskedGradient(a, Backend.Allocate(4, 3), a));
    }

    private static Tensor Random(int n, Random random)
    {
        var t = Backend.Allocate(1, n);
        var s = t.Span();
        for (int i = 0; i < n; i++)
            s[i] = 2 * random.NextSingle() - 1;
        return t;
    }
}
