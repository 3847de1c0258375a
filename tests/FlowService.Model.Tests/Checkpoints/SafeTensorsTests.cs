using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using FlowService.Model.Checkpoints;

namespace FlowService.Model.Tests.Checkpoints;

public sealed class SafeTensorsTests
{
    private static SafeTensorsFile Sample() => new(
        [
            new SafeTensor("b.weight", [2, 3], [1f, -2f, 3.5f, float.Epsilon, -0f, float.MaxValue]),
            new SafeTensor("a.bias", [3], [0.1f, 0.2f, 0.3f]),
            new SafeTensor("c.empty", [0, 4], []),
        ],
        new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode \"quoted\"" });

    [Fact]
    public void Round_trip_keeps_every_bit_shape_and_metadata()
    {
        var file = Sample();
        var read = SafeTensorsReader.Read(SafeTensorsWriter.ToBytes(file));
        Assert.Equal(file.Tensors.Keys, read.Tensors.Keys);
        foreach (var (name, tensor) in file.Tensors)
        {
            Assert.Equal(tensor.Shape, read[name].Shape);
            Assert.Equal(tensor.Values.Select(BitConverter.SingleToInt32Bits), read[name].Values.Select(BitConverter.SingleToInt32Bits));
        }
        Assert.Equal(file.Metadata, read.Metadata);
    }

    [Fact]
    public void Layout_is_the_reference_one_sorted_names_padded_header_contiguous_data()
    {
        byte[] bytes = SafeTensorsWriter.ToBytes(Sample());
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, headerLength % 8);
        string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
        Assert.StartsWith("{\"__metadata__\":", header);
        Assert.True(header.IndexOf("\"a.bias\"", StringComparison.Ordinal) < header.IndexOf("\"b.weight\"", StringComparison.Ordinal));
        Assert.Contains("\"a.bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}", header);
        Assert.Contains("\"b.weight\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[12,36]}", header);
        Assert.EndsWith("}", header.TrimEnd(' '));
        Assert.Equal(8 + (int)headerLength + 36, bytes.Length);
        Assert.Equal(0.1f, BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(8 + (int)headerLength)));
    }

    [Theory]
    [InlineData(4)]
    [InlineData(20)]
    public void Truncated_file_is_rejected_with_a_reason(int keep)
    {
        byte[] bytes = SafeTensorsWriter.ToBytes(Sample());
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Read(bytes.AsSpan(0, keep)));
        Assert.Matches("shorter|truncated", e.Message);
        var cut = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Read(bytes.AsSpan(0, bytes.Length - 4)));
        Assert.Contains("b.weight", cut.Message);
    }

    [Fact]
    public void Other_dtypes_and_bad_offsets_are_rejected()
    {
        static byte[] WithHeader(string json, int dataBytes)
        {
            while (json.Length % 8 != 0) json += " ";
            var bytes = new byte[8 + json.Length + dataBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)json.Length);
            Encoding.UTF8.GetBytes(json).CopyTo(bytes, 8);
            return bytes;
        }
        Assert.Contains("F16", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Read(
            WithHeader("{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4))).Message);
        Assert.Contains("shape", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Read(
            WithHeader("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8))).Message);
        Assert.Contains("gap", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Read(
            WithHeader("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8))).Message);
        Assert.Contains("JSON", Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Read(WithHeader("{nope", 0))).Message);
    }

    [Fact]
    public void Reads_the_PyTorch_fixtures_written_by_the_reference_script()
    {
        var file = SafeTensorsReader.Read(Path.Combine(AppContext.BaseDirectory, "Fixtures", "realnvp.safetensors"));
        Assert.Equal([16], file["transforms.0.conditioner.net.0.bias"].Shape);
        Assert.Equal([16, 3], file["transforms.0.conditioner.net.0.weight"].Shape);
        Assert.True(file.Metadata.ContainsKey("spec"));
    }

    [PythonNumpyFact]
    public void Python_with_numpy_parses_the_file_we_write()
    {
        const string python = PythonNumpyFactAttribute.Python;
        string path = Path.Combine(Path.GetTempPath(), $"st-{Guid.NewGuid():N}.safetensors");
        try
        {
            File.WriteAllBytes(path, SafeTensorsWriter.ToBytes(Sample()));
            // Parses the layout exactly as safetensors.numpy.load_file does (the package is not in Debian).
            const string script = """
import json, struct, sys, numpy as np
b = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
assert n % 8 == 0
h = json.loads(b[8:8 + n])
meta = h.pop('__metadata__')
data = b[8 + n:]
end = 0
for k in sorted(h):
    v = h[k]; s, e = v['data_offsets']
    assert v['dtype'] == 'F32' and s == end; end = e
    a = np.frombuffer(data[s:e], dtype='<f4').reshape(v['shape'])
    print(k, list(a.shape), repr(a.ravel().tolist()))
assert end == len(data)
print('meta', meta['note'])
""";
            var psi = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true };
            psi.ArgumentList.Add("-c");
            psi.ArgumentList.Add(script);
            psi.ArgumentList.Add(path);
            using var process = Process.Start(psi)!;
            string output = process.StandardOutput.ReadToEnd();
            string error = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, error);
            Assert.Contains("a.bias [3] [0.10000000149011612, 0.20000000298023224, 0.30000001192092896]", output);
            Assert.Contains("b.weight [2, 3] [1.0, -2.0, 3.5, 1.401298464324817e-45, -0.0, 3.4028234663852886e+38]", output);
            Assert.Contains("c.empty [0, 4] []", output);
            Assert.Contains("meta ünïcode \"quoted\"", output);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
