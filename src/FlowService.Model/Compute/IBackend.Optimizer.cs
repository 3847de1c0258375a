namespace FlowService.Model.Compute;

public partial interface IBackend
{
    // Optimizer arithmetic over a whole parameter arena, one call per step (llm.c style), so training
    // on a device never moves parameters or moments to the host.

    /// <summary>
    /// One AdamW step in place, element-wise over the arena, with torch.optim.AdamW's float32 order
    /// of operations (Adam when weight decay is 0): g = gradient · gradientScale;
    /// p ·= 1 − lr·wd; m = β1·m + (1−β1)·g; v = β2·v + (1−β2)·g²;
    /// p −= stepSize · m / (√v / bias2Sqrt + ε), with stepSize = lr / (1 − β1ᵗ) and bias2Sqrt = √(1 − β2ᵗ)
    /// computed by the caller (<see cref="AdamWStepSettings"/>). All four tensors have the same shape.
    /// </summary>
    void AdamWStep(Tensor parameters, Tensor gradients, Tensor firstMoment, Tensor secondMoment, in AdamWStepSettings settings);

    /// <summary>result (1 x 1) = Σ x² over every element of <paramref name="x"/> (for the global gradient norm).</summary>
    void SumOfSquares(Tensor x, Tensor result);
}
