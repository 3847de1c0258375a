using System.Buffers.Binary;
using System.Text;
using FlowService.Model.Checkpoints;

namespace FlowService.Model.Tests.Checkpoints;

/// <summary>Inputs the fuzzer (tools/fuzz) found to escape <see cref="SafeTensorsReader"/> as other exceptions; each must be a format error.</summary>
public class SafeTensorsFuzzRegressionTests
{
    static byte[] File(byte[] header)
    {
        var bytes = new byte[8 + header.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return bytes;
    }

    public static TheoryData<byte[]> Headers() => new()
    {
        // Invalid UTF-8 inside a metadata string (0xC3 not continued).
        File([.. "{\"__metadata__\":{\"format\":\"p"u8, 0xC3, 0x28, .. "\"}}"u8]),
        // A lone surrogate escape in a metadata value.
        File(Encoding.UTF8.GetBytes("{\"__metadata__\":{\"format\":\"\\ud800\"}}")),
        // A lone surrogate escape in a tensor name.
        File(Encoding.UTF8.GetBytes("{\"a\\udc00\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}}")),
        // __metadata__ that is not an object.
        File(Encoding.UTF8.GetBytes("{\"__metadata__\":[1,2]}")),
    };

    [Theory]
    [MemberData(nameof(Headers))]
    public void Undecodable_or_misshapen_headers_are_format_errors(byte[] file) =>
        Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsReader.Read(file));
}
