namespace FlowService.Model.Compute;

public partial interface IBackend
{
    // Masked weights for MADE's masked linear layers: the mask (same shape as the weight, 0/1) is
    // fixed, so the forward pass uses W∘M and the weight gradient is masked the same way.

    /// <summary>masked = weight ∘ mask (element-wise, all three the same shape).</summary>
    void MaskWeights(Tensor weight, Tensor mask, Tensor masked);

    /// <summary>destination += gradient ∘ mask (element-wise, all three the same shape).</summary>
    void AccumulateMaskedGradient(Tensor gradient, Tensor mask, Tensor destination);
}
