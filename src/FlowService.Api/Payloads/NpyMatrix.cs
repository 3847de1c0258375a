using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.RegularExpressions;
using FlowService.Api.Endpoints;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Payloads;

/// <summary>
/// NumPy .npy bodies and responses for inference: a 2-D C-order little-endian float32 or float64 array in,
/// float32 out. Reading copies the data straight into the engine's float32 buffer; every problem names what is
/// wrong (<c>descr</c>, <c>shape</c>, ...) or the row (1-based) and column of a value that is not finite.
/// </summary>
public static partial class NpyMatrix
{
    static readonly byte[] Magic = [0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y'];

    public static ProblemHttpResult? Read(ReadOnlySpan<byte> bytes, IReadOnlyList<string> names, int maxRows, out float[] values, out int rows)
    {
        values = [];
        rows = 0;
        if (bytes.Length < 10 || !bytes[..6].SequenceEqual(Magic))
            return Problems.BadRequest("The body is not a .npy file: it does not start with the magic string \\x93NUMPY.", field: "$");
        int major = bytes[6];
        int headerLength, headerStart;
        if (major == 1)
            (headerLength, headerStart) = (BinaryPrimitives.ReadUInt16LittleEndian(bytes[8..]), 10);
        else if (major is 2 or 3 && bytes.Length >= 12)
            (headerLength, headerStart) = ((int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..])), 12);
        else
            return Problems.BadRequest($"Unsupported .npy format version {major}.{bytes[7]}; versions 1.0, 2.0 and 3.0 are read.", field: "version");
        if ((long)headerStart + headerLength > bytes.Length)
            return Problems.BadRequest("The .npy header is truncated.", field: "$");
        string header = Encoding.Latin1.GetString(bytes.Slice(headerStart, headerLength));
        var descr = DescrPattern().Match(header);
        var fortran = FortranPattern().Match(header);
        var shape = ShapePattern().Match(header);
        if (!descr.Success || !fortran.Success || !shape.Success)
            return Problems.BadRequest($"The .npy header is not readable (needs 'descr', 'fortran_order' and 'shape'): {header.Trim()}", field: "header");
        int itemSize = descr.Groups[1].Value switch { "<f4" => 4, "<f8" => 8, _ => 0 };
        if (itemSize == 0)
            return Problems.BadRequest($"The .npy dtype is '{descr.Groups[1].Value}'; only little-endian float32 ('<f4') and float64 ('<f8') are accepted.", field: "descr");
        if (fortran.Groups[1].Value != "False")
            return Problems.BadRequest("The .npy array is in Fortran (column-major) order; save it in C order (np.ascontiguousarray).", field: "fortran_order");
        var dims = shape.Groups[1].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        int width = names.Count;
        string expected = $"(rows, {width}) for columns {string.Join(", ", names)}";
        if (dims.Length != 2 || !long.TryParse(dims[0], CultureInfo.InvariantCulture, out long r) || !long.TryParse(dims[1], CultureInfo.InvariantCulture, out long c))
            return Problems.BadRequest($"The .npy array has shape ({shape.Groups[1].Value}); a 2-D array {expected} is required.", field: "shape");
        if (c != width)
            return Problems.BadRequest($"The .npy array has {c} columns; the model expects {expected}.", field: "shape");
        // A negative row count would make rows x columns x itemsize wrap around to the body's length.
        if (r < 1)
            return Problems.BadRequest($"The .npy array has {r} rows; at least 1 is needed.", field: "shape");
        if (r > maxRows)
            return Problems.BadRequest($"The .npy array has {r} rows; at most {maxRows} are allowed per request (FlowService:Limits:MaxScoreRows).", field: "shape");
        var data = bytes[(headerStart + headerLength)..];
        long needed = r * c * itemSize;
        if (data.Length != needed)
            return Problems.BadRequest($"The .npy data holds {data.Length} bytes but shape ({r}, {c}) of '{descr.Groups[1].Value}' needs {needed}.", field: "shape");

        values = new float[r * c];
        if (itemSize == 4)
        {
            if (!BitConverter.IsLittleEndian)
                throw new PlatformNotSupportedException("Reading .npy needs a little-endian machine.");
            data.CopyTo(MemoryMarshal.AsBytes(values.AsSpan()));
            int bad = values.AsSpan().IndexOfAnyExceptInRange(float.MinValue, float.MaxValue);
            if (bad >= 0)
                return NotFinite(bad, values[bad], width, names);
        }
        else
        {
            var doubles = MemoryMarshal.Cast<byte, double>(data);
            for (int i = 0; i < values.Length; i++)
            {
                double v = doubles[i];
                float f = (float)v;
                if (!float.IsFinite(f))
                    return NotFinite(i, v, width, names);
                values[i] = f;
            }
        }
        rows = (int)r;
        return null;
    }

    static ProblemHttpResult NotFinite(int index, double value, int width, IReadOnlyList<string> names) =>
        Problems.BadRequest($"Row {index / width + 1}, column '{names[index % width]}': {value.ToString(CultureInfo.InvariantCulture)} is not a finite float32 number.",
            row: index / width + 1, column: names[index % width]);

    /// <summary>The .npy (version 1.0) header of a float32 C-order (rows, columns) array; the data starts 64-byte aligned, as NumPy writes it.</summary>
    public static byte[] Header(long rows, int columns)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {columns}), }}";
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

    /// <summary>Bytes of a whole float32 (rows, columns) .npy file.</summary>
    public static long FileLength(long rows, int columns) => Header(rows, columns).Length + rows * columns * 4L;

    [GeneratedRegex(@"'descr'\s*:\s*'([^']*)'")]
    private static partial Regex DescrPattern();

    [GeneratedRegex(@"'fortran_order'\s*:\s*(True|False)")]
    private static partial Regex FortranPattern();

    [GeneratedRegex(@"'shape'\s*:\s*\(([^)]*)\)")]
    private static partial Regex ShapePattern();
}
