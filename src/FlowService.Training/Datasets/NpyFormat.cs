using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace FlowService.Training.Datasets;

/// <summary>
/// Reads and writes NumPy's .npy format (versions 1.0, 2.0 and 3.0): a magic string, a header that is a
/// Python dict literal <c>{'descr': '&lt;f8', 'fortran_order': False, 'shape': (rows, cols), }</c>, then
/// the raw array. Accepted: 2-D, C order, little-endian float32 or float64.
/// </summary>
public static partial class NpyFormat
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <param name="columns">Column names; null names them x0, x1, ...</param>
    public static NumericTable Parse(ReadOnlySpan<byte> bytes, DatasetLimits limits, IReadOnlyList<string>? columns = null)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
            throw new DatasetValidationException("The body is not a .npy file: it does not start with the magic string \\x93NUMPY.");
        int major = bytes[6];
        int headerLength, headerStart;
        if (major == 1)
        {
            headerLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]);
            headerStart = 10;
        }
        else if (major is 2 or 3)
        {
            if (bytes.Length < 12)
                throw new DatasetValidationException("The .npy header is truncated.");
            // A length past the body (up to 0xFFFFFFFF) is "truncated" below, not an overflow.
            headerLength = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]));
            headerStart = 12;
        }
        else
            throw new DatasetValidationException($"Unsupported .npy format version {major}.{bytes[7]}; versions 1.0, 2.0 and 3.0 are read.");
        if ((long)headerStart + headerLength > bytes.Length)
            throw new DatasetValidationException("The .npy header is truncated.");
        string header = Encoding.UTF8.GetString(bytes.Slice(headerStart, headerLength));

        string descr = Field(DescrPattern(), header, "descr");
        string fortran = Field(FortranPattern(), header, "fortran_order");
        string shapeText = Field(ShapePattern(), header, "shape");

        int itemSize = descr switch
        {
            "<f4" => 4,
            "<f8" => 8,
            _ => throw new DatasetValidationException($"The .npy dtype is '{descr}'; only little-endian float32 ('<f4') and float64 ('<f8') are accepted.", column: "descr"),
        };
        if (fortran != "False")
            throw new DatasetValidationException("The .npy array is in Fortran (column-major) order; save it in C order (np.ascontiguousarray).", column: "fortran_order");
        var dims = shapeText.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (dims.Length != 2)
            throw new DatasetValidationException($"The .npy array has shape ({shapeText}); a 2-D array (rows, columns) is required.", column: "shape");
        if (!long.TryParse(dims[0], CultureInfo.InvariantCulture, out long rows) || !long.TryParse(dims[1], CultureInfo.InvariantCulture, out long cols))
            throw new DatasetValidationException($"The .npy shape ({shapeText}) is not two integers.", column: "shape");
        if (rows < 0 || cols < 0)
            throw new DatasetValidationException($"The .npy shape ({rows}, {cols}) has a negative dimension.", column: "shape");
        if (rows == 0 || cols == 0)
            throw new DatasetValidationException($"The .npy array has shape ({rows}, {cols}): it holds no data.", row: 1);
        if (cols > limits.MaxColumns)
            throw new DatasetValidationException($"The dataset has {cols} columns; at most {limits.MaxColumns} are allowed (FlowService:Limits:MaxColumns).");
        if (rows > limits.MaxRows)
            throw new DatasetValidationException($"The dataset has {rows} rows; at most {limits.MaxRows} are allowed (FlowService:Limits:MaxRows).", row: limits.MaxRows + 1L);
        if (columns is not null && columns.Count != cols)
            throw new DatasetValidationException($"{columns.Count} column names were given for an array with {cols} columns.", column: "columns");

        var data = bytes[(headerStart + headerLength)..];
        long expected = rows * cols * itemSize;
        if (data.Length != expected)
            throw new DatasetValidationException($"The .npy data holds {data.Length} bytes but shape ({rows}, {cols}) of '{descr}' needs {expected}.", column: "shape");

        var names = columns ?? Enumerable.Range(0, (int)cols).Select(i => $"x{i}").ToArray();
        var values = new double[rows * cols];
        for (long i = 0; i < values.Length; i++)
        {
            double v = itemSize == 4
                ? BinaryPrimitives.ReadSingleLittleEndian(data[(int)(i * 4)..])
                : BinaryPrimitives.ReadDoubleLittleEndian(data[(int)(i * 8)..]);
            if (!double.IsFinite(v))
                throw new DatasetValidationException($"Row {i / cols + 1}, column '{names[(int)(i % cols)]}': {v.ToString(CultureInfo.InvariantCulture)} is not finite (NaN and infinities are not accepted).", row: i / cols + 1, column: names[(int)(i % cols)]);
            values[i] = v;
        }
        return new NumericTable(names, (int)rows, values);
    }

    /// <summary>Writes a float64 C-order 2-D .npy (version 1.0) of the table's values.</summary>
    public static void WriteFloat64(Stream stream, NumericTable table)
    {
        string dict = $"{{'descr': '<f8', 'fortran_order': False, 'shape': ({table.Rows}, {table.ColumnCount}), }}";
        // Header padded with spaces and a newline so the data starts on a 64-byte boundary, as NumPy writes it.
        int unpadded = 10 + dict.Length + 1;
        int padding = (64 - unpadded % 64) % 64;
        string header = dict + new string(' ', padding) + "\n";
        stream.Write(Magic);
        stream.Write([1, 0]);
        Span<byte> length = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(length, checked((ushort)header.Length));
        stream.Write(length);
        stream.Write(Encoding.ASCII.GetBytes(header));
        var buffer = new byte[8 * 4096];
        for (int i = 0; i < table.Values.Length; i += 4096)
        {
            int n = Math.Min(4096, table.Values.Length - i);
            for (int j = 0; j < n; j++)
                BinaryPrimitives.WriteDoubleLittleEndian(buffer.AsSpan(j * 8), table.Values[i + j]);
            stream.Write(buffer, 0, n * 8);
        }
    }

    static string Field(Regex pattern, string header, string name)
    {
        var match = pattern.Match(header);
        if (!match.Success)
            throw new DatasetValidationException($"The .npy header has no readable '{name}' entry: {header.Trim()}", column: name);
        return match.Groups[1].Value;
    }

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
