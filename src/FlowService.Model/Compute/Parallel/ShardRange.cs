namespace FlowService.Model.Compute.Parallel;

/// <summary>A contiguous run [Start, Start + Count) of rows (or any items) handed to one shard.</summary>
public readonly record struct ShardRange(int Start, int Count)
{
    /// <summary>
    /// Shard <paramref name="shard"/> of <paramref name="shards"/> near-equal runs covering
    /// [0, <paramref name="length"/>); the first length % shards runs are one longer.
    /// </summary>
    public static ShardRange Of(int length, int shards, int shard)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(shards);
        if ((uint)shard >= (uint)shards)
            throw new ArgumentOutOfRangeException(nameof(shard), $"Shard {shard} is outside [0, {shards}).");
        int quotient = Math.DivRem(length, shards, out int remainder);
        int start = shard * quotient + Math.Min(shard, remainder);
        return new ShardRange(start, quotient + (shard < remainder ? 1 : 0));
    }

    /// <summary>
    /// Aligned variant: every run except the last starts and ends on a multiple of
    /// <paramref name="alignment"/> (e.g. a GEMM's 8-row register tile), so no tile straddles two shards.
    /// </summary>
    public static ShardRange Of(int length, int shards, int shard, int alignment)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(alignment);
        int blocks = (length + alignment - 1) / alignment;
        var blockRange = Of(blocks, shards, shard);
        int start = Math.Min(length, blockRange.Start * alignment);
        int end = Math.Min(length, (blockRange.Start + blockRange.Count) * alignment);
        return new ShardRange(start, end - start);
    }
}
