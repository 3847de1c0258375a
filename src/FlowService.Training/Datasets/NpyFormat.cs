using System.Buffers.Binary;
using System.Globalization;

namespace FlowService.Training.Datasets;

/// <summary>
/// Datasets in NumPy's .npy format, read and written through the one header codec <see cref="NpyHeader"/>
/// (versions 1.0, 2.0 and 3.0; C order; little-endian float32 or float64, or unsigned bytes): 2-D (rows,
/// columns) for tables, 3-D (N, H, W) or 4-D (N, C, H, W) for images (<see cref="ImageTables"/>).
/// </summary>
public static class NpyFormat
{

    /// <param name="columns">Column names; null names them x0, x1, ...</param>
    public static NumericTable Parse(ReadOnlySpan<byte> bytes, DatasetLimits limits, IReadOnlyList<string>? columns = null)
    {
        var header = NpyHeader.Parse(bytes);
        var data = bytes[header.DataOffset..];
        if (header.Shape.Length is 3 or 4)
        {
            if (columns is not null)
                throw new DatasetValidationException("Column names are not given for images: their pixels are named c{c}_y{y}_x{x}.", column: "columns");
            var copy = data.ToArray();
            return ImageTables.FromPixels(header.Shape.Select(d => (int)d).ToArray(), header.Count, i => header.Read(copy, i), limits);
        }
        if (header.Shape.Length != 2)
            throw new DatasetValidationException(
                $"The .npy array has shape {header.ShapeText}; a 2-D array (rows, columns) or images (N, H, W) or (N, C, H, W) are required.", column: "shape");
        long rows = header.Shape[0], cols = header.Shape[1];
        if (rows == 0 || cols == 0)
            throw new DatasetValidationException($"The .npy array has shape ({rows}, {cols}): it holds no data.", row: 1);
        if (cols > limits.MaxColumns)
            throw new DatasetValidationException($"The dataset has {cols} columns; at most {limits.MaxColumns} are allowed (FlowService:Limits:MaxColumns).");
        if (rows > limits.MaxRows)
            throw new DatasetValidationException($"The dataset has {rows} rows; at most {limits.MaxRows} are allowed (FlowService:Limits:MaxRows).", row: limits.MaxRows + 1L);
        if (columns is not null && columns.Count != cols)
            throw new DatasetValidationException($"{columns.Count} column names were given for an array with {cols} columns.", column: "columns");

        var names = columns ?? Enumerable.Range(0, (int)cols).Select(i => $"x{i}").ToArray();
        var values = new double[rows * cols];
        for (long i = 0; i < values.Length; i++)
        {
            double v = header.Read(data, i);
            if (!double.IsFinite(v))
                throw new DatasetValidationException($"Row {i / cols + 1}, column '{names[(int)(i % cols)]}': {v.ToString(CultureInfo.InvariantCulture)} is not finite (NaN and infinities are not accepted).", row: i / cols + 1, column: names[(int)(i % cols)]);
            values[i] = v;
        }
        return new NumericTable(names, (int)rows, values);
    }

    /// <summary>Writes a float64 C-order 2-D .npy (version 1.0) of the table's values.</summary>
    public static void WriteFloat64(Stream stream, NumericTable table)
    {
        stream.Write(NpyHeader.Write("<f8", table.Rows, table.ColumnCount));
        var buffer = new byte[8 * 4096];
        for (int i = 0; i < table.Values.Length; i += 4096)
        {
            int n = Math.Min(4096, table.Values.Length - i);
            for (int j = 0; j < n; j++)
                BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(j * 8), table.Values[i + j]);
            stream.Write(buffer, 0, n * 8);
        }
    }
}
