using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// A bijection f between data and latent space with a tractable log|det ∂f/∂x|.
/// One direction everywhere: <see cref="Forward"/> maps data → latent, <see cref="Inverse"/>
/// maps latent → data.
/// </summary>
/// <remarks>
/// Lifecycle: <see cref="DeclareParameters"/> once when the flow is built (the layout is then
/// frozen), <see cref="InitializeParameters"/> once on the host, then any number of
/// forward/backward/inverse calls. A transform holds no per-batch state: activations cached for
/// backward live in <see cref="FlowContext.Workspace"/>, so one flow serves several batch
/// shards (threads, or requests) at once, each with its own context.
/// </remarks>
public interface ITransform
{
    /// <summary>Dimension D of x and y.</summary>
    int Features { get; }

    /// <summary>Declares this transform's parameters (names relative to <paramref name="scope"/>).</summary>
    void DeclareParameters(ParameterScope scope);

    /// <summary>Writes initial values into the host copy of the arena. Deterministic given the initializer's seed.</summary>
    void InitializeParameters(ParameterInitializer initializer);

    /// <summary>
    /// y = f(x); <b>adds</b> log|det ∂f/∂x| of each row to <paramref name="logDet"/> (rows x 1).
    /// When <see cref="FlowContext.RecordForBackward"/> is set, caches what <see cref="Backward"/>
    /// needs; it may keep references to <paramref name="x"/> and <paramref name="y"/>, which the
    /// caller leaves untouched until Backward.
    /// </summary>
    void Forward(FlowContext context, Tensor x, Tensor y, Tensor logDet);

    /// <summary>x = f⁻¹(y).</summary>
    void Inverse(FlowContext context, Tensor y, Tensor x);

    /// <summary>
    /// Given dL/dy (<paramref name="dy"/>) and dL/d logDet per row (<paramref name="dLogDet"/>,
    /// rows x 1), writes dL/dx into <paramref name="dx"/> and <b>accumulates</b> parameter
    /// gradients into <see cref="FlowContext.Gradients"/>; when the context is conditional, also
    /// accumulates dL/dcontext into <see cref="FlowContext.ConditionGradient"/> if that is set.
    /// Requires the matching Forward to have run with RecordForBackward on this context.
    /// <paramref name="dx"/> never aliases <paramref name="dy"/>.
    /// </summary>
    void Backward(FlowContext context, Tensor dy, Tensor dLogDet, Tensor dx);
}
