using System.Buffers.Binary;
using System.Text;
using System.Text.Json;

namespace FlowService.Model.Checkpoints;

/// <summary>
/// Writes the safetensors layout (huggingface/safetensors): an 8-byte little-endian header length,
/// a JSON header <c>{"__metadata__": {..}, name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}}</c>
/// padded with spaces to a multiple of 8 bytes (as the reference implementation pads it), then the
/// raw little-endian data of every tensor in name order.
/// </summary>
public static class SafeTensorsWriter
{
    public static byte[] ToBytes(SafeTensorsFile file)
    {
        using var stream = new MemoryStream();
        Write(stream, file);
        return stream.ToArray();
    }

    public static void Write(Stream stream, SafeTensorsFile file)
    {
        byte[] header = Header(file);
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        byte[] buffer = new byte[1 << 16];
        foreach (var tensor in file.Tensors.Values)
        {
            int filled = 0;
            foreach (float value in tensor.Values)
            {
                BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(filled, 4), value);
                filled += 4;
                if (filled == buffer.Length)
                {
                    stream.Write(buffer, 0, filled);
                    filled = 0;
                }
            }
            stream.Write(buffer, 0, filled);
        }
    }

    private static byte[] Header(SafeTensorsFile file)
    {
        using var json = new MemoryStream();
        using (var writer = new Utf8JsonWriter(json))
        {
            writer.WriteStartObject();
            if (file.Metadata.Count > 0)
            {
                writer.WriteStartObject("__metadata__");
                foreach (var (key, value) in file.Metadata)
                    writer.WriteString(key, value);
                writer.WriteEndObject();
            }
            long offset = 0;
            foreach (var tensor in file.Tensors.Values)
            {
                if (tensor.Shape.Any(d => d < 0) || tensor.ElementCount != tensor.Values.Length)
                    throw new ArgumentException($"Tensor '{tensor.Name}' has shape [{string.Join(", ", tensor.Shape)}] but {tensor.Values.Length} values.");
                long end = offset + 4L * tensor.Values.Length;
                writer.WriteStartObject(tensor.Name);
                writer.WriteString("dtype", "F32");
                writer.WriteStartArray("shape");
                foreach (int d in tensor.Shape)
                    writer.WriteNumberValue(d);
                writer.WriteEndArray();
                writer.WriteStartArray("data_offsets");
                writer.WriteNumberValue(offset);
                writer.WriteNumberValue(end);
                writer.WriteEndArray();
                writer.WriteEndObject();
                offset = end;
            }
            writer.WriteEndObject();
        }
        int length = (int)json.Length;
        int padded = (length + 7) & ~7;
        byte[] header = new byte[padded];
        json.GetBuffer().AsSpan(0, length).CopyTo(header);
        header.AsSpan(length).Fill((byte)' ');
        return header;
    }
}
