using System.Buffers.Binary;
using System.Text;
using FlowService.Training.Datasets;

namespace FlowService.Training.Tests.Datasets;

public class JsonAndNpyParserTests
{
    static readonly DatasetLimits Limits = new();

    static DatasetValidationException RejectJson(string json) =>
        Assert.Throws<DatasetValidationException>(() => DatasetParser.Parse(Encoding.UTF8.GetBytes(json), DatasetFormat.Json, Limits));

    [Fact]
    public void Json_columns_and_rows_parse()
    {
        var table = DatasetParser.Parse(Encoding.UTF8.GetBytes("""{"columns":["x","y"],"rows":[[1,2],[3,4.5]]}"""), DatasetFormat.Json, Limits);
        Assert.Equal(["x", "y"], table.Columns);
        Assert.Equal([1, 2, 3, 4.5], table.Values);
    }

    [Fact]
    public void Json_rejections_name_row_and_column()
    {
        var text = RejectJson("""{"columns":["x","y"],"rows":[[1,2],[3,"NaN"]]}""");
        Assert.Equal(2, text.Row);
        Assert.Equal("y", text.Column);
        Assert.Equal(2, RejectJson("""{"columns":["x","y"],"rows":[[1,2],[3]]}""").Row);
        Assert.Contains("\"rows\" is empty", RejectJson("""{"columns":["x"],"rows":[]}""").Message);
        Assert.Equal("columns", RejectJson("""{"rows":[[1]]}""").Column);
        Assert.Contains("not valid JSON", RejectJson("""{"columns":["x"],"rows":[[1]""").Message);
    }

    /// <summary>Bytes exactly as numpy.save writes them (header layout of NumPy 1.x, version 1.0).</summary>
    static byte[] Npy(string descr, string shape, bool fortran, byte[] data)
    {
        string dict = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shape}, }}";
        int pad = (64 - (10 + dict.Length + 1) % 64) % 64;
        string header = dict + new string(' ', pad) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0 };
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    static byte[] Floats(params float[] values)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++)
            BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        return data;
    }

    [Fact]
    public void Npy_float32_and_float64_parse_and_round_trip_through_the_writer()
    {
        var f32 = DatasetParser.Parse(Npy("<f4", "(3, 2)", false, Floats(1, 2, 3, 4, 5, 7)), DatasetFormat.Npy, Limits);
        Assert.Equal(["x0", "x1"], f32.Columns);
        Assert.Equal([1, 2, 3, 4, 5, 7], f32.Values);

        using var stream = new MemoryStream();
        NpyFormat.WriteFloat64(stream, f32);
        Assert.Equal(0, (stream.Length - 6 * 8) % 64);
        var back = NpyFormat.Parse(stream.ToArray(), Limits, ["a", "b"]);
        Assert.Equal(f32.Values, back.Values);
        Assert.Equal(["a", "b"], back.Columns);
    }

    [Fact]
    public void Npy_rejects_wrong_dtype_order_shape_length_and_nan()
    {
        DatasetValidationException Reject(byte[] body) =>
            Assert.Throws<DatasetValidationException>(() => DatasetParser.Parse(body, DatasetFormat.Npy, Limits));
        Assert.Equal("descr", Reject(Npy("<i4", "(2, 2)", false, new byte[16])).Column);
        Assert.Equal("descr", Reject(Npy(">f4", "(2, 2)", false, new byte[16])).Column);
        Assert.Equal("fortran_order", Reject(Npy("<f4", "(2, 2)", true, Floats(1, 2, 3, 4))).Column);
        Assert.Contains("2-D", Reject(Npy("<f4", "(4,)", false, Floats(1, 2, 3, 4))).Message);
        Assert.Contains("needs 16", Reject(Npy("<f4", "(2, 2)", false, Floats(1, 2, 3))).Message);
        var nan = Reject(Npy("<f4", "(2, 2)", false, Floats(1, 2, 3, float.NaN)));
        Assert.Equal(2, nan.Row);
        Assert.Equal("x1", nan.Column);
        Assert.Contains("magic", Reject(Encoding.ASCII.GetBytes("a,b\n1,2\n")).Message);
    }
}
