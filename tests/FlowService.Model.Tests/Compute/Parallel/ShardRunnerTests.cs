using FlowService.Model.Compute.Parallel;

namespace FlowService.Model.Tests.Compute.Parallel;

public sealed class ShardRunnerTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 1)]
    [InlineData(2, 2)]
    [InlineData(2, 7)]
    [InlineData(4, 3)]
    [InlineData(4, 64)]
    public void Every_shard_runs_exactly_once_and_the_sums_equal_the_sequential_ones(int degree, int shards)
    {
        using var runner = new ShardRunner(degree);
        const int length = 10_007;
        var data = Enumerable.Range(0, length).Select(i => MathF.Sin(i) * 3f).ToArray();
        double sequential = 0;
        foreach (var v in data)
            sequential += (double)v * v;

        for (int repeat = 0; repeat < 200; repeat++)
        {
            var partial = new double[shards];
            var runs = new int[shards];
            runner.Run(shards, shard =>
            {
                Interlocked.Increment(ref runs[shard]);
                var range = ShardRange.Of(length, shards, shard);
                double sum = 0;
                for (int i = range.Start; i < range.Start + range.Count; i++)
                    sum += (double)data[i] * data[i];
                partial[shard] = sum;
            });
            Assert.All(runs, r => Assert.Equal(1, r));
            // Same per-shard partition and the same sequential order within a shard: bit-identical.
            double expected = 0, got = 0;
            for (int s = 0; s < shards; s++)
            {
                var range = ShardRange.Of(length, shards, s);
                double sum = 0;
                for (int i = range.Start; i < range.Start + range.Count; i++)
                    sum += (double)data[i] * data[i];
                expected += sum;
                got += partial[s];
            }
            Assert.Equal(expected, got);
            Assert.Equal(sequential, got, 1e-9 * sequential);
        }
    }

    [Fact]
    public void Shard_zero_runs_on_the_calling_thread()
    {
        using var runner = new ShardRunner(2);
        for (int repeat = 0; repeat < 100; repeat++)
        {
            int shardZeroThread = -1;
            runner.Run(2, shard =>
            {
                if (shard == 0)
                    shardZeroThread = Environment.CurrentManagedThreadId;
            });
            Assert.Equal(Environment.CurrentManagedThreadId, shardZeroThread);
        }
    }

    [Fact]
    public void The_struct_body_runs_without_allocating()
    {
        using var runner = new ShardRunner(2, TimeSpan.FromMilliseconds(5));
        var output = new int[8];
        var body = new SquareBody(output);
        runner.Run(8, body);    // warm up: JIT, the cached job object
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
            runner.Run(8, body);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.Equal(new[] { 0, 1, 4, 9, 16, 25, 36, 49 }, output);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    public void An_exception_in_any_shard_reaches_the_caller_after_every_shard_finished(int failingShard)
    {
        using var runner = new ShardRunner(2);
        var finished = new int[6];
        var error = Assert.Throws<InvalidOperationException>(() => runner.Run(6, shard =>
        {
            if (shard == failingShard)
                throw new InvalidOperationException($"shard {shard} failed");
            Interlocked.Increment(ref finished[shard]);
        }));
        Assert.Equal($"shard {failingShard} failed", error.Message);
        for (int s = 0; s < 6; s++)
            Assert.Equal(s == failingShard ? 0 : 1, finished[s]);

        // The runner is still usable afterwards.
        int count = 0;
        runner.Run(6, _ => Interlocked.Increment(ref count));
        Assert.Equal(6, count);
    }

    [Fact]
    public async Task A_nested_run_from_inside_a_shard_runs_inline_without_deadlock()
    {
        using var runner = new ShardRunner(2);
        var cells = new int[4 * 4];
        var task = Task.Run(() => runner.Run(4, outer =>
            runner.Run(4, inner => cells[outer * 4 + inner] += outer * 10 + inner)));
        await task.WaitAsync(TimeSpan.FromSeconds(30));    // TimeoutException = deadlock
        for (int o = 0; o < 4; o++)
            for (int i = 0; i < 4; i++)
                Assert.Equal(o * 10 + i, cells[o * 4 + i]);
    }

    [Fact]
    public async Task Concurrent_callers_all_get_correct_results_without_deadlock()
    {
        using var runner = new ShardRunner(3, TimeSpan.FromMicroseconds(20));
        const int callers = 4, iterations = 300, shards = 5;
        var tasks = Enumerable.Range(0, callers).Select(caller => Task.Run(() =>
        {
            for (int it = 0; it < iterations; it++)
            {
                var values = new long[shards];
                runner.Run(shards, shard => values[shard] = (long)caller * 1_000_000 + it * 100 + shard);
                for (int s = 0; s < shards; s++)
                    if (values[s] != (long)caller * 1_000_000 + it * 100 + s)
                        return false;
            }
            return true;
        })).ToArray();
        bool[] results = await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));    // TimeoutException = deadlock
        Assert.All(results, Assert.True);
    }

    [Fact]
    public void Workers_that_went_to_sleep_wake_up_for_the_next_run()
    {
        using var runner = new ShardRunner(2, TimeSpan.Zero);
        for (int repeat = 0; repeat < 10; repeat++)
        {
            Thread.Sleep(2);    // no spinning: the worker is blocked by now
            int shardOneThread = 0;
            runner.Run(2, shard =>
            {
                if (shard == 0)
                {
                    // The caller holds shard 0 until someone else has taken shard 1: only a woken worker can.
                    bool taken = SpinWait.SpinUntil(() => Volatile.Read(ref shardOneThread) != 0, TimeSpan.FromSeconds(10));
                    Assert.True(taken, "the blocked worker was not woken for the run");
                }
                else
                {
                    Volatile.Write(ref shardOneThread, Environment.CurrentManagedThreadId);
                }
            });
            Assert.NotEqual(Environment.CurrentManagedThreadId, shardOneThread);
        }
    }

    [Fact]
    public void Zero_shards_do_nothing_and_invalid_counts_are_rejected()
    {
        using var runner = new ShardRunner(2);
        runner.Run(0, _ => throw new InvalidOperationException("must not run"));
        Assert.Throws<ArgumentOutOfRangeException>(() => runner.Run(-1, _ => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => runner.Run(ShardRunner.MaxShards + 1, _ => { }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShardRunner(0));
    }

    [Theory]
    [InlineData(10, 3)]
    [InlineData(2, 4)]
    [InlineData(0, 2)]
    [InlineData(257, 2)]
    public void Shard_ranges_cover_the_length_once_in_order(int length, int shards)
    {
        int next = 0;
        for (int s = 0; s < shards; s++)
        {
            var range = ShardRange.Of(length, shards, s);
            Assert.Equal(next, range.Start);
            Assert.InRange(range.Count, length / shards, length / shards + 1);
            next += range.Count;
        }
        Assert.Equal(length, next);
    }

    [Theory]
    [InlineData(100, 2, 8)]
    [InlineData(7, 2, 8)]
    [InlineData(257, 3, 8)]
    public void Aligned_shard_ranges_start_on_the_alignment_and_cover_the_length(int length, int shards, int alignment)
    {
        int next = 0;
        for (int s = 0; s < shards; s++)
        {
            var range = ShardRange.Of(length, shards, s, alignment);
            Assert.Equal(next, range.Start);
            Assert.True(range.Start % alignment == 0 || range.Count == 0);
            next += range.Count;
        }
        Assert.Equal(length, next);
    }

    private readonly struct SquareBody(int[] output) : IShardBody
    {
        public void Run(int shard) => output[shard] = shard * shard;
    }
}
