using FlowService.Model.Compute;

namespace FlowService.Model.Transforms;

/// <summary>
/// An element-wise bijection y_i = g(x_i; θ_i) whose parameters θ come from a conditioner: the
/// leaf of the structural transforms (<see cref="Coupling"/>, <see cref="Autoregressive"/>),
/// as zuko separates a transform's structure from its element-wise map.
/// </summary>
/// <remarks>
/// For d features the conditioner emits the parameters grouped by kind, each kind feature-major:
/// kind b holds d · <see cref="ParametersPerFeatureByKind"/>[b] values (affine [shift | rawScale],
/// spline [widths | heights | derivatives]). All-zero parameters are the identity for every leaf,
/// so a zero-initialised conditioner starts its transform as the identity.
/// </remarks>
public interface ICouplingLeaf
{
    /// <summary>Values per feature of each parameter kind, in output order.</summary>
    IReadOnlyList<int> ParametersPerFeatureByKind { get; }

    /// <summary>y = g(x; θ) for x of rows x d, θ of rows x (d · Σ kinds); <b>adds</b> Σ_i log|∂y_i/∂x_i| to <paramref name="logDet"/>.</summary>
    void Forward(FlowContext context, Tensor x, Tensor parameters, Tensor y, Tensor logDet);

    /// <summary>x = g⁻¹(y; θ).</summary>
    void Inverse(FlowContext context, Tensor y, Tensor parameters, Tensor x);

    /// <summary>Given dL/dy and dL/dlogDet at input x, overwrites dL/dx and dL/dθ.</summary>
    void Backward(FlowContext context, Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, Tensor dx, Tensor dParameters);
}
