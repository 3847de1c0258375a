using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FlowService.Model.Compute.Cpu;

/// <summary>
/// Per-thread scratch for the CPU kernels: a pinned array (pinned object heap, so the pointer stays valid), grown when a
/// call needs more, whose start is rounded up to 64 bytes. Pinned arrays begin 16 bytes past a cache line, and a 512-bit
/// load from there straddles two lines: every load of a packed GEMM strip, a padded image or a Winograd buffer did.
/// </summary>
internal static unsafe class AlignedScratch
{
    /// <summary>At least <paramref name="floats"/> floats at a 64-byte boundary in <paramref name="buffer"/> (a [ThreadStatic] field: shards run kernels concurrently).</summary>
    public static float* Get(ref float[]? buffer, long floats)
    {
        if (buffer is null || buffer.Length < floats + 16)
            buffer = GC.AllocateUninitializedArray<float>(checked((int)floats + 16), pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(buffer));
        return (float*)((start + 63) & ~(nint)63);
    }
}
