using System.Numerics.Tensors;

namespace FlowService.Model.Compute.Cpu;

public sealed partial class CpuBackend
{
    public void CopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count)
    {
        CheckColumnBlocks(source, sourceColumn, destination, destinationColumn, count);
        var s = source.Span();
        var d = destination.Span();
        if (sourceColumn == 0 && destinationColumn == 0 && count == source.Cols && count == destination.Cols)
        {
            s.CopyTo(d);
            return;
        }
        for (int r = 0; r < source.Rows; r++)
            s.Slice(r * source.Cols + sourceColumn, count).CopyTo(d.Slice(r * destination.Cols + destinationColumn, count));
    }

    public void AddColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count)
    {
        CheckColumnBlocks(source, sourceColumn, destination, destinationColumn, count);
        var s = source.Span();
        var d = destination.Span();
        for (int r = 0; r < source.Rows; r++)
        {
            var target = d.Slice(r * destination.Cols + destinationColumn, count);
            TensorPrimitives.Add(target, s.Slice(r * source.Cols + sourceColumn, count), target);
        }
    }

    public void GatherColumns(Tensor source, int[] indices, Tensor destination, int destinationColumn)
    {
        CheckColumnBlocks(source, 0, destination, destinationColumn, indices.Length);
        CheckIndices(indices, source.Cols);
        var s = source.Span();
        var d = destination.Span();
        for (int r = 0; r < source.Rows; r++)
        {
            var from = s.Slice(r * source.Cols, source.Cols);
            var to = d.Slice(r * destination.Cols + destinationColumn, indices.Length);
            for (int i = 0; i < indices.Length; i++)
                to[i] = from[indices[i]];
        }
    }

    public void ScatterColumns(Tensor source, int sourceColumn, int[] indices, Tensor destination, bool accumulate)
    {
        CheckColumnBlocks(source, sourceColumn, destination, 0, indices.Length);
        CheckIndices(indices, destination.Cols);
        var s = source.Span();
        var d = destination.Span();
        for (int r = 0; r < source.Rows; r++)
        {
            var from = s.Slice(r * source.Cols + sourceColumn, indices.Length);
            var to = d.Slice(r * destination.Cols, destination.Cols);
            if (accumulate)
                for (int i = 0; i < indices.Length; i++)
                    to[indices[i]] += from[i];
            else
                for (int i = 0; i < indices.Length; i++)
                    to[indices[i]] = from[i];
        }
    }

    private static void CheckIndices(int[] indices, int cols)
    {
        foreach (int index in indices)
            if ((uint)index >= (uint)cols)
                throw new ArgumentOutOfRangeException(nameof(indices), $"Column index {index} is outside 0..{cols - 1}.");
    }

    private static void CheckColumnBlocks(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count)
    {
        if (source.Rows != destination.Rows)
            throw new ArgumentException($"Row counts differ: {source.Rows} vs {destination.Rows}.");
        if (count < 0 || sourceColumn < 0 || destinationColumn < 0 || sourceColumn + count > source.Cols || destinationColumn + count > destination.Cols)
            throw new ArgumentOutOfRangeException(nameof(count), $"Columns [{sourceColumn}, +{count}) of {source.Cols} and [{destinationColumn}, +{count}) of {destination.Cols} are not both inside.");
    }
}
