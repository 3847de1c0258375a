using FlowService.Model.Compute;

namespace FlowService.Training.Optimization;

/// <summary>
/// AdamW over one parameter arena: the two moment arenas mirror the parameters, and a step is one
/// backend op (<see cref="IBackend.AdamWStep"/>), so it runs where the parameters live. Matches
/// torch.optim.AdamW (and torch.optim.Adam when weight decay is 0) step for step: bias
/// correction from the 1-based step count, ε added after the square root.
/// </summary>
public sealed class AdamW
{
    private readonly IBackend _backend;

    public AdamW(IBackend backend, int length, AdamWOptions options)
    {
        _backend = backend;
        Options = options;
        FirstMoment = backend.Allocate(1, length);
        SecondMoment = backend.Allocate(1, length);
    }

    public AdamWOptions Options { get; }

    /// <summary>Steps taken so far (torch's <c>state["step"]</c>).</summary>
    public int Step { get; private set; }

    public Tensor FirstMoment { get; }

    public Tensor SecondMoment { get; }

    /// <summary>
    /// Updates <paramref name="parameters"/> in place from <paramref name="gradients"/> multiplied by
    /// <paramref name="gradientScale"/> (the clipping coefficient, 1 when not clipping).
    /// </summary>
    public void Update(Tensor parameters, Tensor gradients, double learningRate, float gradientScale = 1f)
    {
        Step++;
        var settings = AdamWStepSettings.For(Step, learningRate, Options.Beta1, Options.Beta2, Options.Epsilon, Options.WeightDecay, gradientScale);
        _backend.AdamWStep(parameters, gradients, FirstMoment, SecondMoment, settings);
    }

    /// <summary>Restores a saved state (step count and both moments, host floats) to resume training.</summary>
    public void Restore(int step, ReadOnlySpan<float> firstMoment, ReadOnlySpan<float> secondMoment)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        _backend.Upload(firstMoment, FirstMoment);
        _backend.Upload(secondMoment, SecondMoment);
        Step = step;
    }
}
