namespace FlowService.Model.Parameters;

/// <summary>
/// One named parameter tensor inside the flat parameter arena: <c>Rows x Cols</c> floats
/// starting at <c>Offset</c>. Names are dotted paths ("layers.3.conditioner.net.0.weight") and
/// are the tensor names in checkpoints, matching the PyTorch reference modules' state_dict keys.
/// Linear weights are stored [out, in] as in PyTorch.
/// </summary>
public sealed record ParameterSlot(string Name, int Rows, int Cols, int Offset)
{
    public int Length => Rows * Cols;
}
