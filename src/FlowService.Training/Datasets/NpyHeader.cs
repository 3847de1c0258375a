using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace FlowService.Training.Datasets;

/// <summary>
/// The one reader and writer of NumPy .npy headers (format versions 1.0, 2.0 and 3.0), shared by dataset
/// uploads (<see cref="NpyFormat"/>) and the inference payloads: a magic string, the header length, a Python
/// dict literal <c>{'descr': '&lt;f4', 'fortran_order': False, 'shape': (rows, cols), }</c>, then the raw
/// C-order array. Accepted dtypes: little-endian float32 ('&lt;f4'), float64 ('&lt;f8') and unsigned bytes
/// ('|u1'). Problems are <see cref="DatasetValidationException"/>s whose <c>Column</c> names the place:
/// <c>$</c> (not .npy, truncated), <c>version</c>, <c>header</c>, <c>descr</c>, <c>fortran_order</c>, <c>shape</c>.
/// </summary>
public sealed partial record NpyHeader(string Descr, int ItemSize, long[] Shape, int DataOffset)
{
    private static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    /// <summary>Values the shape holds (the product of its dimensions).</summary>
    public long Count => Shape.Aggregate(1L, (a, b) => a * b);

    public string ShapeText => "(" + string.Join(", ", Shape) + (Shape.Length == 1 ? ",)" : ")");

    public static NpyHeader Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
            throw new DatasetValidationException("The body is not a .npy file: it does not start with the magic string \\x93NUMPY.", column: "$");
        int major = bytes[6];
        long headerLength;
        int headerStart;
        if (major == 1)
            (headerLength, headerStart) = (BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]), 10);
        else if (major is 2 or 3 && bytes.Length >= 12)
            (headerLength, headerStart) = (BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]), 12);
        else if (major is 2 or 3)
            throw new DatasetValidationException("The .npy header is truncated.", column: "$");
        else
            throw new DatasetValidationException($"Unsupported .npy format version {major}.{bytes[7]}; versions 1.0, 2.0 and 3.0 are read.", column: "version");
        if (headerStart + headerLength > bytes.Length)
            throw new DatasetValidationException("The .npy header is truncated.", column: "$");
        string header = Encoding.Latin1.GetString(bytes.Slice(headerStart, (int)headerLength));
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
            throw new DatasetValidationException($"The .npy header is not readable (needs 'descr', 'fortran_order' and 'shape'): {header.Trim()}", column: "header");
        string type = descr.Groups[1].Value;
        int itemSize = type switch
        {
            "<f4" => 4,
            "<f8" => 8,
            "|u1" or "<u1" => 1,
            _ => throw new DatasetValidationException(
                $"The .npy dtype is '{type}'; only little-endian float32 ('<f4'), float64 ('<f8') and unsigned bytes ('|u1') are accepted.", column: "descr"),
        };
        if (fortran.Groups[1].Value != "False")
            throw new DatasetValidationException("The .npy array is in Fortran (column-major) order; save it in C order (np.ascontiguousarray).", column: "fortran_order");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sizes = new long[dims.Length];
        for (int i = 0; i < dims.Length; i++)
            if (!long.TryParse(dims[i], NumberStyles.None, CultureInfo.InvariantCulture, out sizes[i]) || sizes[i] > int.MaxValue)
                throw new DatasetValidationException($"The .npy shape ({shape.Groups[1].Value}) is not a tuple of sizes.", column: "shape");
        var result = new NpyHeader(type, itemSize, sizes, (int)(headerStart + headerLength));
        long data = bytes.Length - result.DataOffset;
        // Sizes of up to 2^31 each cannot overflow a double's product check before the long one is trusted.
        if (sizes.Aggregate(1.0, (a, b) => a * b) * itemSize > long.MaxValue / 2 || data != result.Count * itemSize)
            throw new DatasetValidationException($"The .npy data holds {data} bytes but shape {result.ShapeText} of '{type}' needs {result.Count * itemSize}.", column: "shape");
        return result;
    }

    /// <summary>A version 1.0 header of a C-order array, padded with spaces and a newline so the data starts 64-byte aligned, as NumPy writes it.</summary>
    public static byte[] Write(string descr, params long[] shape)
    {
        string dims = string.Join(", ", shape) + (shape.Length == 1 ? "," : "");
        string dict = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({dims}), }}";
        int unpadded = 10 + dict.Length + 1;
        string text = dict + new string(' ', (64 - unpadded % 64) % 64) + "\n";
        var header = new byte[10 + text.Length];
        Magic.CopyTo(header, 0);
        header[6] = 1;
        header[7] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(header.AsSpan(8), checked((ushort)text.Length));
        Encoding.ASCII.GetBytes(text, header.AsSpan(10));
        return header;
    }

    /// <summary>Value <paramref name="index"/> of the data (from <see cref="DataOffset"/> on) as a double.</summary>
    public double Read(ReadOnlySpan<byte> data, long index) => ItemSize switch
    {
        1 => data[(int)index],
        4 => BinaryPrimitives.ReadSingleLittleEndian(data[(int)(index * 4)..]),
        _ => BinaryPrimitives.ReadDoubleLittleEndian(data[(int)(index * 8)..]),
    };

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
