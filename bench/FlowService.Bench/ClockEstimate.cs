using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace FlowService.Bench;

/// <summary>
/// Measures the core clock a thread actually gets: a chain of dependent one-cycle integer
/// operations (add, xor) runs at one operation per cycle on any x86 core since the 1990s, so
/// operations per second = cycles per second. Turbo, throttling and a busy hypervisor all show.
/// </summary>
internal static class ClockEstimate
{
    public static double MeasureGHz()
    {
        Chain(1_000_000, 1);    // JIT and wake up the core
        // Many short runs (~2 ms, under one scheduler slice) so that on a shared machine some run undisturbed.
        double best = 0;
        for (int attempt = 0; attempt < 100; attempt++)
        {
            const long iterations = 1_000_000;
            long start = Stopwatch.GetTimestamp();
            ulong result = Chain(iterations, (ulong)attempt + 3);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            GC.KeepAlive(result);
            best = Math.Max(best, 8.0 * iterations / seconds / 1e9);    // 8 dependent operations per iteration
        }
        return best;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong Chain(long iterations, ulong x)
    {
        for (long i = 0; i < iterations; i++)
        {
            x += (ulong)i;
            x ^= 0x9E3779B97F4A7C15;
            x += (ulong)i;
            x ^= 0x6A09E667F3BCC909;
            x += (ulong)i;
            x ^= 0xBB67AE8584CAA73B;
            x += (ulong)i;
            x ^= 0x3C6EF372FE94F82B;
        }
        return x;
    }
}
