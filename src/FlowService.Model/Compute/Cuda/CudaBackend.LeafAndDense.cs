using System.Runtime.CompilerServices;
using FlowService.Model.Compute.Cpu;

namespace FlowService.Model.Compute.Cuda;

/// <summary>The affine leaf, dense bias + activation and column ops on the device (kernels in Kernels/LeafAndDenseKernels.cs).</summary>
public sealed unsafe partial class CudaBackend
{
    // Column index lists live on the device as floats (exact below 2^24), uploaded once per list.
    private readonly ConditionalWeakTable<int[], Tensor> _indexLists = new();

    public void AffineForward(Tensor x, Tensor parameters, float scaleClamp, Tensor y, Tensor logDet)
    {
        CheckAffineShapes(x, parameters, scaleClamp);
        RequireSameShape(x, y);
        RequirePerRow(logDet, x.Rows);
        ulong px = Pointer(x), pp = Pointer(parameters), py = Pointer(y), pl = Pointer(logDet);
        long rows = x.Rows;
        int d = x.Cols;
        float clamp = scaleClamp;
        void** args = stackalloc void*[] { &px, &pp, &rows, &d, &clamp, &py, &pl };
        Launch(Kernel(LeafAndDenseKernels.Source, "affine_forward"), x.Length, args);
    }

    public void AffineInverse(Tensor y, Tensor parameters, float scaleClamp, Tensor x)
    {
        CheckAffineShapes(y, parameters, scaleClamp);
        RequireSameShape(x, y);
        ulong py = Pointer(y), pp = Pointer(parameters), px = Pointer(x);
        long rows = y.Rows;
        int d = y.Cols;
        float clamp = scaleClamp;
        void** args = stackalloc void*[] { &py, &pp, &rows, &d, &clamp, &px };
        Launch(Kernel(LeafAndDenseKernels.Source, "affine_inverse"), y.Length, args);
    }

    public void AffineBackward(Tensor x, Tensor parameters, Tensor dy, Tensor dLogDet, float scaleClamp, Tensor dx, Tensor dParameters)
    {
        CheckAffineShapes(x, parameters, scaleClamp);
        RequireSameShape(x, dy);
        RequireSameShape(x, dx);
        RequireSameShape(parameters, dParameters);
        RequirePerRow(dLogDet, x.Rows);
        ulong px = Pointer(x), pp = Pointer(parameters), pdy = Pointer(dy), pdl = Pointer(dLogDet), pdx = Pointer(dx), pdp = Pointer(dParameters);
        long rows = x.Rows;
        int d = x.Cols;
        float clamp = scaleClamp;
        void** args = stackalloc void*[] { &px, &pp, &pdy, &pdl, &rows, &d, &clamp, &pdx, &pdp };
        Launch(Kernel(LeafAndDenseKernels.Source, "affine_backward"), x.Length, args);
    }

    public void BiasActivationForward(Tensor preActivation, Tensor bias, Tensor output, FusedActivation activation)
    {
        RequireSameShape(preActivation, output);
        RequireLength(bias, preActivation.Cols);
        if (output.Length == 0)
            return;
        ulong pre = Pointer(preActivation), pb = Pointer(bias), po = Pointer(output);
        long n = output.Length;
        int cols = output.Cols, a = (int)activation;
        void** args = stackalloc void*[] { &pre, &pb, &po, &n, &cols, &a };
        Launch(Kernel(LeafAndDenseKernels.Source, "bias_activation_forward"), n, args);
    }

    public void BiasActivationBackward(Tensor output, Tensor dOutput, Tensor dPreActivation, Tensor biasGradient, FusedActivation activation)
    {
        RequireSameShape(output, dOutput);
        RequireSameShape(output, dPreActivation);
        RequireLength(biasGradient, output.Cols);
        if (output.Length == 0)
            return;
        ulong po = Pointer(output), pdo = Pointer(dOutput), pdp = Pointer(dPreActivation), pb = Pointer(biasGradient);
        long n = output.Length, rows = output.Rows;
        int cols = output.Cols, a = (int)activation;
        void** args = stackalloc void*[] { &po, &pdo, &pdp, &n, &a };
        Launch(Kernel(LeafAndDenseKernels.Source, "activation_backward"), n, args);
        void** sumArgs = stackalloc void*[] { &pdp, &rows, &cols, &pb };
        Launch(Kernel(LeafAndDenseKernels.Source, "column_sums_accumulate"), cols, sumArgs);
    }

    public void CopyColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count) =>
        MoveColumns(source, sourceColumn, destination, destinationColumn, count, accumulate: false);

    public void AddColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count) =>
        MoveColumns(source, sourceColumn, destination, destinationColumn, count, accumulate: true);

    public void GatherColumns(Tensor source, int[] indices, Tensor destination, int destinationColumn)
    {
        CheckColumnRange(source, 0, destination, destinationColumn, indices.Length);
        CheckColumnIndices(indices, source.Cols);
        if (source.Rows == 0 || indices.Length == 0)
            return;
        ulong ps = Pointer(source), pi = Pointer(IndexList(indices)), pd = Pointer(destination);
        int sCols = source.Cols, dCols = destination.Cols, dc = destinationColumn, count = indices.Length;
        long rows = source.Rows;
        void** args = stackalloc void*[] { &ps, &sCols, &pi, &pd, &dCols, &dc, &rows, &count };
        Launch(Kernel(LeafAndDenseKernels.Source, "gather_columns"), rows * count, args);
    }

    public void ScatterColumns(Tensor source, int sourceColumn, int[] indices, Tensor destination, bool accumulate)
    {
        CheckColumnRange(source, sourceColumn, destination, 0, indices.Length);
        CheckColumnIndices(indices, destination.Cols);
        if (source.Rows == 0 || indices.Length == 0)
            return;
        ulong ps = Pointer(source), pi = Pointer(IndexList(indices)), pd = Pointer(destination);
        int sCols = source.Cols, sc = sourceColumn, dCols = destination.Cols, count = indices.Length, acc = accumulate ? 1 : 0;
        long rows = source.Rows;
        void** args = stackalloc void*[] { &ps, &sCols, &sc, &pi, &pd, &dCols, &rows, &count, &acc };
        Launch(Kernel(LeafAndDenseKernels.Source, "scatter_columns"), rows * count, args);
    }

    private void MoveColumns(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count, bool accumulate)
    {
        CheckColumnRange(source, sourceColumn, destination, destinationColumn, count);
        if (source.Rows == 0 || count == 0)
            return;
        ulong ps = Pointer(source), pd = Pointer(destination);
        int sCols = source.Cols, sc = sourceColumn, dCols = destination.Cols, dc = destinationColumn, n = count, acc = accumulate ? 1 : 0;
        long rows = source.Rows;
        void** args = stackalloc void*[] { &ps, &sCols, &sc, &pd, &dCols, &dc, &rows, &n, &acc };
        Launch(Kernel(LeafAndDenseKernels.Source, "copy_columns"), rows * count, args);
    }

    private Tensor IndexList(int[] indices)
    {
        lock (_indexLists)
        {
            if (!_indexLists.TryGetValue(indices, out var list))
            {
                list = Allocate(1, indices.Length);
                Upload(indices.Select(i => (float)i).ToArray(), list);
                _indexLists.Add(indices, list);
            }
            return list;
        }
    }

    private static void CheckAffineShapes(Tensor values, Tensor parameters, float scaleClamp)
    {
        if (!(scaleClamp > 0f) || !float.IsFinite(scaleClamp))
            throw new ArgumentOutOfRangeException(nameof(scaleClamp), $"The scale clamp must be positive and finite, not {scaleClamp}.");
        if (parameters.Rows != values.Rows || parameters.Cols != 2 * values.Cols)
            throw new ArgumentException($"Affine parameters for {values.Rows}x{values.Cols} must be {values.Rows}x{2 * values.Cols}, not {parameters.Rows}x{parameters.Cols}.");
    }

    private static void CheckColumnRange(Tensor source, int sourceColumn, Tensor destination, int destinationColumn, int count)
    {
        if (source.Rows != destination.Rows)
            throw new ArgumentException($"Row counts differ: {source.Rows} vs {destination.Rows}.");
        if (count < 0 || sourceColumn < 0 || destinationColumn < 0 || sourceColumn + count > source.Cols || destinationColumn + count > destination.Cols)
            throw new ArgumentOutOfRangeException(nameof(count), $"Columns [{sourceColumn}, +{count}) of {source.Cols} and [{destinationColumn}, +{count}) of {destination.Cols} are not both inside.");
    }

    private static void CheckColumnIndices(int[] indices, int cols)
    {
        foreach (int index in indices)
            if ((uint)index >= (uint)cols)
                throw new ArgumentOutOfRangeException(nameof(indices), $"Column index {index} is outside 0..{cols - 1}.");
    }
}
