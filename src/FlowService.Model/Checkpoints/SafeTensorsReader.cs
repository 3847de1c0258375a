using System.Buffers.Binary;
using System.Text.Json;

namespace FlowService.Model.Checkpoints;

/// <summary>
/// Reads float32 safetensors files (see <see cref="SafeTensorsWriter"/>), checking every offset
/// against the file so a truncated or edited file fails with a <see cref="SafeTensorsFormatException"/>
/// that names the problem instead of yielding garbage weights.
/// </summary>
public static class SafeTensorsReader
{
    /// <summary>The reference implementation refuses headers above 100 MB; so do we.</summary>
    private const long MaxHeaderLength = 100_000_000;

    public static SafeTensorsFile Read(string path) => Read(File.ReadAllBytes(path), path);

    public static SafeTensorsFile Read(ReadOnlySpan<byte> bytes, string source = "safetensors data")
    {
        if (bytes.Length < 8)
            throw new SafeTensorsFormatException($"{source}: {bytes.Length} bytes is shorter than the 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderLength || (long)headerLength > bytes.Length - 8)
            throw new SafeTensorsFormatException($"{source}: the header claims {headerLength} bytes but the file holds {bytes.Length - 8} after the length (truncated or not safetensors).");
        var data = bytes[(8 + (int)headerLength)..];
        JsonDocument header;
        try
        {
            header = JsonDocument.Parse(bytes.Slice(8, (int)headerLength).ToArray());
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException($"{source}: the header is not valid JSON ({e.Message}).");
        }
        try
        {
            using (header)
                return ReadHeader(header, data, source);
        }
        catch (InvalidOperationException e)
        {
            // A string with invalid UTF-8 or a lone surrogate escape fails only when decoded (found by fuzzing).
            throw new SafeTensorsFormatException($"{source}: the header holds an undecodable string ({e.Message}).");
        }
    }

    private static SafeTensorsFile ReadHeader(JsonDocument header, ReadOnlySpan<byte> data, string source)
    {
        if (header.RootElement.ValueKind != JsonValueKind.Object)
            throw new SafeTensorsFormatException($"{source}: the header is not a JSON object.");
        var tensors = new List<SafeTensor>();
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        var extents = new List<(long Begin, long End, string Name)>();
        foreach (var entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                if (entry.Value.ValueKind != JsonValueKind.Object)
                    throw new SafeTensorsFormatException($"{source}: __metadata__ is not a JSON object.");
                foreach (var item in entry.Value.EnumerateObject())
                {
                    if (item.Value.ValueKind != JsonValueKind.String)
                        throw new SafeTensorsFormatException($"{source}: metadata '{item.Name}' is not a string.");
                    metadata[item.Name] = item.Value.GetString()!;
                }
                continue;
            }
            var (tensor, begin, end) = ReadTensor(entry, data, source);
            tensors.Add(tensor);
            extents.Add((begin, end, entry.Name));
        }
        RequireContiguous(extents, data.Length, source);
        return new SafeTensorsFile(tensors, metadata);
    }

    private static (SafeTensor, long, long) ReadTensor(JsonProperty entry, ReadOnlySpan<byte> data, string source)
    {
        string name = entry.Name;
        try
        {
            string? dtype = entry.Value.GetProperty("dtype").GetString();
            if (dtype != "F32")
                throw new SafeTensorsFormatException($"{source}: tensor '{name}' has dtype {dtype}; only F32 is supported.");
            int[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0] || offsets[1] > data.Length)
                throw new SafeTensorsFormatException($"{source}: tensor '{name}' has data_offsets [{string.Join(", ", offsets)}] outside the {data.Length} data bytes.");
            long count = shape.Aggregate(1L, (n, d) => d < 0 ? -1 : n * d);
            if (count < 0 || count * 4 != offsets[1] - offsets[0])
                throw new SafeTensorsFormatException($"{source}: tensor '{name}' has shape [{string.Join(", ", shape)}] but {offsets[1] - offsets[0]} bytes.");
            var values = new float[count];
            var bytes = data.Slice((int)offsets[0], (int)(offsets[1] - offsets[0]));
            for (int i = 0; i < values.Length; i++)
                values[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes.Slice(4 * i, 4));
            return (new SafeTensor(name, shape, values), offsets[0], offsets[1]);
        }
        catch (Exception e) when (e is KeyNotFoundException or InvalidOperationException or FormatException)
        {
            throw new SafeTensorsFormatException($"{source}: tensor '{name}' has a malformed header entry ({e.Message}).");
        }
    }

    /// <summary>The reference reader requires the tensors to tile the data exactly: no gaps, no overlap, no trailing bytes.</summary>
    private static void RequireContiguous(List<(long Begin, long End, string Name)> extents, int dataLength, string source)
    {
        long expected = 0;
        foreach (var (begin, end, name) in extents.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (begin != expected)
                throw new SafeTensorsFormatException($"{source}: tensor '{name}' starts at byte {begin}, expected {expected} (gap or overlap).");
            expected = end;
        }
        if (expected != dataLength)
            throw new SafeTensorsFormatException($"{source}: the tensors cover {expected} data bytes but the file holds {dataLength} (truncated or trailing bytes).");
    }
}
