namespace FlowService.Tests.Shared;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood 2014) with uniforms on [0, 1) from the top 53 bits and
/// Box-Muller normals, all in double: a generator small enough to mirror line for line in Python
/// (tools/reference/portable_random.py), so the fitting tests and the PyTorch reference
/// (tools/reference/fit_reference.py) train and evaluate on bit-identical rows. System.Random's
/// seeded sequence is an implementation detail of .NET, and numpy's is numpy's.
/// </summary>
public sealed class PortableRandom(ulong seed)
{
    private ulong _state = seed;

    public ulong NextUInt64()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform on [0, 1): the top 53 bits times 2⁻⁵³ (exact in double).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>An integer uniform on [0, n) by multiplying a uniform double (bias below 2⁻⁴⁰ for small n).</summary>
    public int NextInt(int n) => (int)(NextDouble() * n);

    /// <summary>A standard normal: Box-Muller from two uniforms (the cosine branch only, so no state is carried).</summary>
    public double NextNormal()
    {
        double u1 = 1.0 - NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }
}
