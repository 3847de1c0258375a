using System.Buffers.Binary;
using System.IO.Compression;
using FlowService.Training.Datasets;

namespace FlowService.Training.Images;

/// <summary>
/// The IDX format that MNIST and Fashion-MNIST ship in (LeCun et al.), gzipped or not: two zero bytes,
/// a type byte, the number of dimensions, each dimension as a big-endian int32, then the values in C
/// order. Images are <c>idx3-ubyte</c> (N, H, W) of unsigned bytes; labels <c>idx1-ubyte</c> (N).
/// Only unsigned-byte data (type 0x08) is read: it is what image archives hold.
/// </summary>
public static class IdxFormat
{
    /// <summary>The shape and bytes of an IDX file (gzip detected by its magic bytes 1f 8b).</summary>
    /// <param name="maxBytes">Largest decompressed size accepted: a small gzip can expand enormously.</param>
    public static (int[] Shape, byte[] Values) Read(ReadOnlySpan<byte> bytes, long maxBytes)
    {
        byte[] raw = bytes.Length >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b ? Gunzip(bytes, maxBytes) : bytes.ToArray();
        if (raw.Length < 4 || raw[0] != 0 || raw[1] != 0)
            throw new DatasetValidationException("The body is not an IDX file: it does not start with two zero bytes.", column: "magic");
        if (raw[2] != 0x08)
            throw new DatasetValidationException($"The IDX data type is 0x{raw[2]:x2}; only unsigned bytes (0x08, as image archives hold) are read.", column: "type");
        int dimensions = raw[3];
        if (dimensions is < 1 or > 4)
            throw new DatasetValidationException($"The IDX file has {dimensions} dimensions; 1 to 4 are read.", column: "shape");
        int headerLength = 4 + 4 * dimensions;
        if (raw.Length < headerLength)
            throw new DatasetValidationException("The IDX header is truncated.", column: "shape");
        var shape = new int[dimensions];
        for (int i = 0; i < dimensions; i++)
        {
            uint size = BinaryPrimitives.ReadUInt32BigEndian(raw.AsSpan(4 + 4 * i));
            if (size is 0 or > int.MaxValue)
                throw new DatasetValidationException($"IDX dimension {i} has size {size}.", column: "shape");
            shape[i] = (int)size;
        }
        // The product of four sizes below 2^31 can wrap a long (to the data's length, as a fuzzed header did); stopping
        // once it passes the data's length keeps every product below 2^31 * 2^31.
        long count = 1;
        for (int i = 0; i < dimensions && count <= raw.Length; i++)
            count *= shape[i];
        if (raw.Length - headerLength != count)
            throw new DatasetValidationException(
                $"The IDX data holds {raw.Length - headerLength} bytes but its shape ({string.Join(", ", shape)}) needs {(count > raw.Length ? "more" : count)}.", column: "shape");
        return (shape, raw[headerLength..]);
    }

    private static byte[] Gunzip(ReadOnlySpan<byte> bytes, long maxBytes)
    {
        using var input = new GZipStream(new MemoryStream(bytes.ToArray()), CompressionMode.Decompress);
        using var output = new MemoryStream();
        var buffer = new byte[81920];
        try
        {
            int read;
            while ((read = input.Read(buffer)) > 0)
            {
                if (output.Length + read > maxBytes)
                    throw new DatasetValidationException($"The gzipped IDX file expands to more than {maxBytes} bytes (FlowService:Limits:MaxUploadBytes).", tooLarge: true);
                output.Write(buffer, 0, read);
            }
        }
        catch (InvalidDataException e)
        {
            throw new DatasetValidationException($"The gzip stream is corrupt: {e.Message}", column: "gzip");
        }
        return output.ToArray();
    }
}
