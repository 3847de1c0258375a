using System.Buffers.Binary;
using System.IO.Compression;

namespace FlowService.Training.Images;

/// <summary>
/// Writes n images of C x H x W bytes (channels first; C = 1 grey, 3 RGB) as one PNG: a grid of
/// ⌈√n⌉ columns with a 2-pixel dark border around every tile. PNG with 8-bit samples, no interlace,
/// filter 0 on every line, the data deflated by <see cref="ZLibStream"/> (RFC 2083).
/// </summary>
public static class PngGrid
{
    private const int Border = 2;
    private static readonly uint[] CrcTable = MakeCrcTable();

    public static byte[] Encode(ReadOnlySpan<byte> images, int count, int channels, int height, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        if (channels is not (1 or 3))
            throw new ArgumentOutOfRangeException(nameof(channels), $"A PNG grid shows 1-channel (grey) or 3-channel (RGB) images, not {channels} channels.");
        if (images.Length != (long)count * channels * height * width)
            throw new ArgumentException($"{count} images of {channels}x{height}x{width} need {(long)count * channels * height * width} bytes, not {images.Length}.", nameof(images));
        int columns = (int)Math.Ceiling(Math.Sqrt(count));
        int rows = (count + columns - 1) / columns;
        int gridWidth = columns * (width + Border) + Border, gridHeight = rows * (height + Border) + Border;
        int stride = 1 + gridWidth * channels;
        var scanlines = new byte[(long)stride * gridHeight];  // zero: the border is black, every filter byte 0
        int pixels = height * width;
        for (int n = 0; n < count; n++)
        {
            int top = Border + n / columns * (height + Border), left = Border + n % columns * (width + Border);
            var image = images.Slice(n * channels * pixels, channels * pixels);
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    for (int c = 0; c < channels; c++)
                        scanlines[(long)(top + y) * stride + 1 + (left + x) * channels + c] = image[c * pixels + y * width + x];
        }

        using var png = new MemoryStream();
        png.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, gridWidth);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), gridHeight);
        header[8] = 8;                                // bit depth
        header[9] = (byte)(channels == 1 ? 0 : 2);    // grey or RGB; compression, filter, interlace 0
        WriteChunk(png, "IHDR", header);
        using (var deflated = new MemoryStream())
        {
            using (var zlib = new ZLibStream(deflated, CompressionLevel.Optimal, leaveOpen: true))
                zlib.Write(scanlines);
            WriteChunk(png, "IDAT", deflated.ToArray());
        }
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream stream, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(word, data.Length);
        stream.Write(word);
        var typeBytes = System.Text.Encoding.ASCII.GetBytes(type);
        stream.Write(typeBytes);
        stream.Write(data);
        uint crc = Crc(Crc(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(word, crc);
        stream.Write(word);
    }

    private static uint Crc(uint crc, ReadOnlySpan<byte> data)
    {
        foreach (byte b in data)
            crc = CrcTable[(crc ^ b) & 0xFF] ^ (crc >> 8);
        return crc;
    }

    private static uint[] MakeCrcTable()
    {
        var table = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++)
                c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[n] = c;
        }
        return table;
    }
}
