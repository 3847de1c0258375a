using System.Text;

namespace FlowService.Api.Tests.Scoring;

/// <summary>.npy files written by hand (as NumPy lays them out), so payload tests do not trust the service's own writer; and a reader of float32 answers.</summary>
public static class NpyBytes
{
    public static byte[] Float32(int rows, int columns, float[] values) => Build("<f4", $"({rows}, {columns})", values.SelectMany(BitConverter.GetBytes).ToArray());

    public static byte[] Float64(int rows, int columns, double[] values) => Build("<f8", $"({rows}, {columns})", values.SelectMany(BitConverter.GetBytes).ToArray());

    public static byte[] Build(string descr, string shape, byte[] data, string fortran = "False")
    {
        string dict = $"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape}, }}";
        string header = dict.PadRight(64 * ((10 + dict.Length + 1 + 63) / 64) - 10 - 1) + "\n";
        var bytes = new List<byte> { 0x93 };
        bytes.AddRange("NUMPY"u8.ToArray());
        bytes.AddRange([1, 0, (byte)(header.Length & 0xff), (byte)(header.Length >> 8)]);
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    /// <summary>(rows, columns, values) of a float32 C-order .npy.</summary>
    public static (int Rows, int Columns, float[] Values) Read(byte[] bytes)
    {
        Assert.Equal(0x93, bytes[0]);
        int headerLength = bytes[8] | bytes[9] << 8;
        string header = Encoding.ASCII.GetString(bytes, 10, headerLength);
        Assert.Contains("'descr': '<f4'", header);
        Assert.Equal(0, (10 + headerLength) % 64);
        var shape = header[(header.IndexOf("'shape': (", StringComparison.Ordinal) + 10)..];
        var dims = shape[..shape.IndexOf(')')].Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var values = new float[(bytes.Length - 10 - headerLength) / 4];
        Buffer.BlockCopy(bytes, 10 + headerLength, values, 0, values.Length * 4);
        Assert.Equal(dims[0] * dims[1], values.Length);
        return (dims[0], dims[1], values);
    }
}
