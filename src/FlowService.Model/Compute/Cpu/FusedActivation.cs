namespace FlowService.Model.Compute.Cpu;

/// <summary>The activations <see cref="BiasActivation"/> fuses with a bias add; each has a derivative expressible through its output.</summary>
public enum FusedActivation
{
    /// <summary>y = x.</summary>
    Identity,

    /// <summary>y = max(x, 0).</summary>
    Relu,

    /// <summary>y = tanh(x).</summary>
    Tanh,

    /// <summary>y = x for x &gt; 0, eˣ − 1 otherwise (alpha = 1, as PyTorch's default <c>nn.ELU</c>).</summary>
    Elu,
}
