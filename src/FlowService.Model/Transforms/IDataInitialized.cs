namespace FlowService.Model.Transforms;

/// <summary>
/// A transform with a data-dependent initialisation (Glow's ActNorm): given the rows it receives
/// from the first batch, it sets its own parameters. <see cref="Flows.NormalizingFlow.InitializeFromData"/>
/// finds these through chains and factor-outs and feeds each the output of everything before it.
/// </summary>
public interface IDataInitialized
{
    /// <summary>From this transform's inputs (host copy, row-major), writes its parameters into the host arena.</summary>
    void InitializeFromData(ReadOnlySpan<float> inputs, Span<float> parameters);
}
