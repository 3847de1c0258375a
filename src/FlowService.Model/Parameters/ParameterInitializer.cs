namespace FlowService.Model.Parameters;

/// <summary>
/// Writes initial parameter values into a host copy of the arena. One seeded
/// <see cref="Random"/> drawn in declaration order makes initialization reproducible:
/// the same spec and seed give bit-identical weights.
/// </summary>
public sealed class ParameterInitializer
{
    private readonly float[] _values;

    public ParameterInitializer(ParameterLayout layout, int seed)
    {
        Layout = layout;
        _values = new float[layout.Length];
        Random = new Random(seed);
    }

    public ParameterLayout Layout { get; }

    public Random Random { get; }

    /// <summary>The host arena being filled.</summary>
    public float[] Values => _values;

    public Span<float> this[ParameterSlot slot] => _values.AsSpan(slot.Offset, slot.Length);

    /// <summary>U(-bound, bound) with bound = 1/sqrt(fanIn): PyTorch's nn.Linear default for weights and biases.</summary>
    public void Uniform(ParameterSlot slot, int fanIn)
    {
        float bound = 1f / MathF.Sqrt(fanIn);
        UniformRange(slot, -bound, bound);
    }

    public void UniformRange(ParameterSlot slot, float low, float high)
    {
        var span = this[slot];
        for (int i = 0; i < span.Length; i++)
            span[i] = low + (high - low) * (float)Random.NextDouble();
    }

    public void Normal(ParameterSlot slot, float std)
    {
        var span = this[slot];
        for (int i = 0; i < span.Length; i++)
            span[i] = std * StandardNormal(Random);
    }

    public void Constant(ParameterSlot slot, float value) => this[slot].Fill(value);

    /// <summary>A standard normal draw (Box–Muller), shared by initialization and sampling.</summary>
    public static float StandardNormal(Random random)
    {
        double u1 = 1.0 - random.NextDouble();
        double u2 = random.NextDouble();
        return (float)(Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2));
    }
}
