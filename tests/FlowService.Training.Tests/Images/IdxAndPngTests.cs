using System.Buffers.Binary;
using System.IO.Compression;
using FlowService.Training.Datasets;
using FlowService.Training.Images;

namespace FlowService.Training.Tests.Images;

/// <summary>IDX archives as MNIST ships them (plain and gzipped, and the real Fashion-MNIST files when installed) and the PNG grid writer, decoded back byte for byte.</summary>
public sealed class IdxAndPngTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_images_read_with_their_shape_plain_or_gzipped(bool gzipped)
    {
        var values = Enumerable.Range(0, 3 * 4 * 5).Select(i => (byte)(i * 7)).ToArray();
        var file = Idx(values, 3, 4, 5);
        var (shape, read) = IdxFormat.Read(gzipped ? Gzip(file) : file, 1 << 20);
        Assert.Equal([3, 4, 5], shape);
        Assert.Equal(values, read);
    }

    [Fact]
    public void Bad_idx_files_are_rejected_saying_what_is_wrong()
    {
        var good = Idx(new byte[24], 2, 3, 4);
        var floats = (byte[])good.Clone();
        floats[2] = 0x0D;
        Assert.Equal("type", Assert.Throws<DatasetValidationException>(() => IdxFormat.Read(floats, 1 << 20)).Column);
        Assert.Contains("needs 24", Assert.Throws<DatasetValidationException>(() => IdxFormat.Read(good[..^1], 1 << 20)).Message);
        Assert.Equal("magic", Assert.Throws<DatasetValidationException>(() => IdxFormat.Read("P5\n"u8.ToArray(), 1 << 20)).Column);
        var corrupt = Gzip(good);
        corrupt[^9] ^= 0xFF;  // inside the deflate stream's tail / CRC
        Assert.Throws<DatasetValidationException>(() => IdxFormat.Read(corrupt, 1 << 20));
        // A bomb: a gzip that expands beyond the limit is refused while it expands.
        var bomb = Assert.Throws<DatasetValidationException>(() => IdxFormat.Read(Gzip(Idx(new byte[1 << 16], 1, 256, 256)), 1 << 12));
        Assert.True(bomb.TooLarge);
    }

    /// <summary>
    /// Found by tools/fuzz ("idx"): a 20-byte header of (8, 0x03040000, 0x30000000, 0x30000000) and no data. The product
    /// of the sizes wrapped a long to 0, the data's length, so the file passed as 8 images of a negative size and
    /// naming their columns threw IndexOutOfRangeException (a 500).
    /// </summary>
    [Fact]
    public void Sizes_whose_product_wraps_around_are_refused_not_taken_for_the_datas_length()
    {
        byte[] header = [0, 0, 8, 4, 0, 0, 0, 8, 3, 4, 0, 0, 0x30, 0, 0, 0, 0x30, 0, 0, 0];
        var error = Assert.Throws<DatasetValidationException>(() => DatasetParser.Parse(header, DatasetFormat.Idx, new DatasetLimits()));
        Assert.Equal("shape", error.Column);
        Assert.Contains("needs more", error.Message);
        // The same sizes reaching the image table another way (a .npy of images) are refused there too.
        var table = Assert.Throws<DatasetValidationException>(() => ImageTables.FromPixels([8, 0x03040000, 0x30000000, 0x30000000], 0, _ => 0, new DatasetLimits()));
        Assert.Contains("MaxImageValues", table.Message);
        Assert.Throws<DatasetValidationException>(() => ImageTables.FromPixels([1, int.MaxValue, int.MaxValue, int.MaxValue], 0, _ => 0, new DatasetLimits()));
    }

    [FashionMnistFact]
    public void The_installed_Fashion_MNIST_archives_read_as_60000_and_10000_images_of_28x28()
    {
        string train = Path.Combine(FashionMnistFactAttribute.Folder, "train-images-idx3-ubyte.gz");
        string test = Path.Combine(FashionMnistFactAttribute.Folder, "t10k-images-idx3-ubyte.gz");
        var (trainShape, trainValues) = IdxFormat.Read(File.ReadAllBytes(train), 1L << 30);
        var (testShape, _) = IdxFormat.Read(File.ReadAllBytes(test), 1L << 30);
        Assert.Equal([60000, 28, 28], trainShape);
        Assert.Equal([10000, 28, 28], testShape);
        Assert.Contains(trainValues, v => v == 255);
    }

    [Theory]
    [InlineData(1, 5, 28, 28)]
    [InlineData(3, 4, 3, 2)]
    public void Png_grid_decodes_to_the_tiles_with_black_borders(int channels, int count, int height, int width)
    {
        var random = new Random(1);
        var images = new byte[count * channels * height * width];
        random.NextBytes(images);
        var png = PngGrid.Encode(images, count, channels, height, width);

        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);
        var chunks = Chunks(png);
        Assert.Equal(["IHDR", "IDAT", "IEND"], chunks.Select(c => c.Type));
        var header = chunks[0].Data;
        int gridWidth = BinaryPrimitives.ReadInt32BigEndian(header), gridHeight = BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(4));
        int columns = (int)Math.Ceiling(Math.Sqrt(count)), rows = (count + columns - 1) / columns;
        Assert.Equal(columns * (width + 2) + 2, gridWidth);
        Assert.Equal(rows * (height + 2) + 2, gridHeight);
        Assert.Equal(channels == 1 ? 0 : 2, header[9]);

        using var inflated = new MemoryStream();
        using (var zlib = new ZLibStream(new MemoryStream(chunks[1].Data), CompressionMode.Decompress))
            zlib.CopyTo(inflated);
        var lines = inflated.ToArray();
        int stride = 1 + gridWidth * channels;
        Assert.Equal(stride * gridHeight, lines.Length);
        for (int n = 0; n < count; n++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    for (int c = 0; c < channels; c++)
                    {
                        int top = 2 + n / columns * (height + 2), left = 2 + n % columns * (width + 2);
                        Assert.Equal(images[((n * channels + c) * height + y) * width + x], lines[(top + y) * stride + 1 + (left + x) * channels + c]);
                    }
        Assert.All(Enumerable.Range(0, gridWidth * channels), i => Assert.Equal(0, lines[1 + i]));  // the top border row
    }

    [Fact]
    public void Png_grid_refuses_shapes_it_cannot_show()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => PngGrid.Encode(new byte[2 * 4], 1, 2, 2, 2));
        Assert.Throws<ArgumentException>(() => PngGrid.Encode(new byte[3], 1, 1, 2, 2));
    }

    private static List<(string Type, byte[] Data)> Chunks(byte[] png)
    {
        var chunks = new List<(string, byte[])>();
        for (int at = 8; at < png.Length;)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = System.Text.Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length).ToArray();
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length));
            Assert.Equal(Crc32(png.AsSpan(at + 4, 4 + length)), crc);
            chunks.Add((type, data));
            at += 12 + length;
        }
        return chunks;
    }

    /// <summary>Bitwise CRC-32 (the PNG/zlib polynomial), independent of the writer's table.</summary>
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    private static byte[] Idx(byte[] values, params int[] shape)
    {
        var file = new byte[4 + 4 * shape.Length + values.Length];
        file[2] = 0x08;
        file[3] = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4 + 4 * i), shape[i]);
        values.CopyTo(file, 4 + 4 * shape.Length);
        return file;
    }

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(bytes);
        return output.ToArray();
    }
}
