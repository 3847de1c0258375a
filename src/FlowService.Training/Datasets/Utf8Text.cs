using System.Text.Unicode;

namespace FlowService.Training.Datasets;

/// <summary>
/// Finds the first byte that is not valid UTF-8. JSON readers only notice invalid UTF-8 inside a string when the
/// string is decoded (an InvalidOperationException, not a JsonException), so bodies are checked whole first.
/// </summary>
public static class Utf8Text
{
    /// <summary>The 0-based offset of the first invalid UTF-8 sequence, or -1 when the bytes are valid UTF-8.</summary>
    public static long FirstInvalidByte(ReadOnlySpan<byte> utf8)
    {
        if (Utf8.IsValid(utf8))
            return -1;
        Span<char> scratch = stackalloc char[1024];
        long offset = 0;
        while (true)
        {
            var status = Utf8.ToUtf16(utf8, scratch, out int read, out _, replaceInvalidSequences: false, isFinalBlock: true);
            if (status == System.Buffers.OperationStatus.InvalidData || status == System.Buffers.OperationStatus.NeedMoreData)
                return offset + read;
            if (status == System.Buffers.OperationStatus.Done)
                return -1;
            utf8 = utf8[read..];
            offset += read;
        }
    }
}
