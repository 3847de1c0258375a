using System.Globalization;
using System.Runtime.InteropServices;
using FlowService.Api.Endpoints;
using FlowService.Training.Datasets;
using Microsoft.AspNetCore.Http.HttpResults;

namespace FlowService.Api.Payloads;

/// <summary>
/// NumPy .npy bodies and responses for inference, on the one header codec the datasets use (<see cref="NpyHeader"/>):
/// a C-order little-endian float32, float64 or uint8 array in, float32 out. In: (rows, columns) with the model's
/// columns, or images (N, H, W) / (N, C, H, W) whose values per image are the model's columns (an image model's
/// rows are its pixels, channels first). float32 is copied straight into the engine's buffer; every problem names
/// what is wrong (<c>descr</c>, <c>shape</c>, ...) or the row (1-based) and column of a value that is not finite.
/// </summary>
public static class NpyMatrix
{
    public static ProblemHttpResult? Read(ReadOnlySpan<byte> bytes, IReadOnlyList<string> names, int maxRows, out float[] values, out int rows)
    {
        values = [];
        rows = 0;
        NpyHeader header;
        try
        {
            header = NpyHeader.Parse(bytes);
        }
        catch (DatasetValidationException e)
        {
            return Problems.BadRequest(e.Message, field: e.Column ?? "$");
        }
        int width = names.Count;
        string expected = $"(rows, {width}) for columns {string.Join(", ", names)}";
        if (header.Shape.Length is < 2 or > 4)
            return Problems.BadRequest($"The .npy array has shape {header.ShapeText}; a 2-D array {expected} (or images of {width} values each) is required.", field: "shape");
        long r = header.Shape[0], c = header.Count / Math.Max(1, r);
        if (c != width)
            return Problems.BadRequest(header.Shape.Length == 2
                ? $"The .npy array has {c} columns; the model expects {expected}."
                : $"The .npy images of shape {header.ShapeText} have {c} values each; the model expects {width}.", field: "shape");
        // A negative row count would make rows x columns x itemsize wrap around to the body's length.
        if (r < 1)
            return Problems.BadRequest($"The .npy array has {r} rows; at least 1 is needed.", field: "shape");
        if (r > maxRows)
            return Problems.BadRequest($"The .npy array has {r} rows; at most {maxRows} are allowed per request (FlowService:Limits:MaxScoreRows).", field: "shape");

        var data = bytes[header.DataOffset..];
        values = new float[r * c];
        if (header.ItemSize == 4)
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
            for (int i = 0; i < values.Length; i++)
            {
                double v = header.Read(data, i);
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

    /// <summary>The .npy (version 1.0) header of a float32 C-order (rows, columns) array.</summary>
    public static byte[] Header(long rows, int columns) => NpyHeader.Write("<f4", rows, columns);

    /// <summary>Bytes of a whole float32 (rows, columns) .npy file.</summary>
    public static long FileLength(long rows, int columns) => Header(rows, columns).Length + rows * columns * 4L;
}
