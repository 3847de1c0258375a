namespace FlowService.Model.Compute;

public partial interface IBackend
{
    // Moving column blocks between tensors of the same rows: conditioner inputs [x_part | context],
    // and gradients split back out of them.

    /// <summary>destination[:, dc .. dc+count) = source[:, sc .. sc+count). Rows must match; source and destination must not overlap.</summary>
    void CopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count);

    /// <summary>destination[:, dc .. dc+count) += source[:, sc .. sc+count). Rows must match.</summary>
    void AddColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count);

    /// <summary>destination[:, dc + i] = source[:, indices[i]] for every i (permutations, coupling halves). Must not overlap.</summary>
    void GatherColumns(Tensor source, int[] indices, Tensor destination, int destinationColumn);

    /// <summary>destination[:, indices[i]] = source[:, sc + i] (or += when <paramref name="accumulate"/>). Indices distinct; must not overlap.</summary>
    void ScatterColumns(Tensor source, int sourceColumn, int[] indices, Tensor destination, bool accumulate);
}
