namespace FlowService.Training.Optimization;

/// <summary>
/// The row order of an epoch: a Fisher-Yates permutation from System.Random(seed + epoch), so a
/// run resumed at epoch e shuffles exactly as the uninterrupted run did.
/// </summary>
public static class SeededShuffle
{
    public static int[] Permutation(int count, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        var order = new int[count];
        for (int i = 0; i < count; i++)
            order[i] = i;
        var random = new Random(seed);
        for (int i = count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }

    public static int[] ForEpoch(int count, int seed, int epoch) => Permutation(count, unchecked(seed + epoch));
}
