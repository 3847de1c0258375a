using FlowService.Model.Compute;
using FlowService.Model.Parameters;

namespace FlowService.Model.Transforms;

/// <summary>
/// Everything one batch shard needs to run a flow: the backend, the parameter arena, this
/// shard's gradient arena and activation workspace, and the optional conditioning context.
/// One context per thread or concurrent request; contexts share the parameters read-only.
/// </summary>
public sealed class FlowContext
{
    public FlowContext(IBackend backend, Tensor parameters, Tensor? gradients = null)
        : this(backend, parameters, gradients, new Workspace(backend))
    {
    }

    /// <summary>
    /// A context over an existing <paramref name="workspace"/>: shards that run one after another on the same thread
    /// can share one (their activations are dead once a shard's backward is done), so a batch split into more
    /// shards than threads touches only one workspace's memory per thread.
    /// </summary>
    public FlowContext(IBackend backend, Tensor parameters, Tensor? gradients, Workspace workspace)
    {
        Backend = backend;
        Parameters = parameters;
        Gradients = gradients;
        Workspace = workspace;
    }

    public IBackend Backend { get; }

    /// <summary>The flat parameter arena (1 x layout.Length).</summary>
    public Tensor Parameters { get; }

    /// <summary>This shard's gradient arena (same layout), or null for inference.</summary>
    public Tensor? Gradients { get; }

    /// <summary>Activation and scratch buffers, reused across batches of the same size (and by contexts that share them).</summary>
    public Workspace Workspace { get; }

    /// <summary>Context features (rows x C) for conditional flows, or null.</summary>
    public Tensor? Condition { get; set; }

    /// <summary>dL/dcontext (rows x C), accumulated by conditioners when set; null to skip.</summary>
    public Tensor? ConditionGradient { get; set; }

    /// <summary>Forward caches what Backward needs (training); off for inference.</summary>
    public bool RecordForBackward { get; set; }

    /// <summary>
    /// A copy of the parameter arena with every slot stored transposed ([cols, rows] at the same offset), for a flow
    /// frozen for serving (<see cref="Flows.NormalizingFlow.FreezeForServing"/>); null otherwise. A dense layer's
    /// y = x Wᵀ then multiplies by Wᵀ as stored instead of transposing W into the GEMM's packing buffer on every call,
    /// which was a fifth of a lone row's CPU; the arithmetic, and so every bit of the result, is the same.
    /// </summary>
    public Tensor? TransposedParameters { get; init; }

    /// <summary>True for a flow frozen for serving (it has <see cref="TransposedParameters"/>): its parameters cannot change, so
    /// values derived from them may be kept (<see cref="Workspace.GetDerived"/>).</summary>
    public bool Frozen => TransposedParameters is not null;

    /// <summary>Wᵀ of <paramref name="slot"/> ([cols, rows]) from <see cref="TransposedParameters"/>, or null without them.</summary>
    public Tensor? ParamTransposed(ParameterSlot slot) =>
        TransposedParameters is { } transposed ? new(transposed.Storage, transposed.Offset + slot.Offset, slot.Cols, slot.Rows) : null;

    /// <summary>The parameter tensor for <paramref name="slot"/> (a view into the arena).</summary>
    public Tensor Param(ParameterSlot slot) => new(Parameters.Storage, Parameters.Offset + slot.Offset, slot.Rows, slot.Cols);

    /// <summary>The gradient tensor for <paramref name="slot"/>; throws when this context has no gradients.</summary>
    public Tensor Grad(ParameterSlot slot)
    {
        var gradients = Gradients ?? throw new InvalidOperationException("This context has no gradient arena (inference only).");
        return new(gradients.Storage, gradients.Offset + slot.Offset, slot.Rows, slot.Cols);
    }
}
