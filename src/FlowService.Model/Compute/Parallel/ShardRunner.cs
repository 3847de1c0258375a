using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace FlowService.Model.Compute.Parallel;

/// <summary>
/// Runs the shards of one piece of work on a small pool of worker threads plus the calling thread,
/// which always takes shard 0 and then helps with whatever is left.
/// </summary>
/// <remarks>
/// Why not <c>Parallel.For</c>: it costs 2-5 µs to start, as much as a whole flow layer on a small
/// batch. Here the workers spin for <see cref="SpinTime"/> after each run, so back-to-back runs
/// (the layers of one training step) start in well under a microsecond; after that they block, so
/// an idle service burns no CPU.
/// <para>
/// Shards are claimed dynamically from one 64-bit word (generation | shard count | next shard), so a
/// worker that wakes late for a run that is already over finds the generation changed and does
/// nothing, and a run never waits for a worker that the OS has not scheduled: the caller does the
/// remaining shards itself.
/// </para>
/// <para>
/// One run at a time per runner: a caller that finds the pool busy (another thread's run, or a
/// nested run from inside a shard) runs its shards inline, in order, on its own thread, which is
/// always correct and never deadlocks. A shard that throws does not stop the others; the first
/// exception is rethrown to the caller once every shard has finished. (Inline runs stop at the
/// first exception.)
/// </para>
/// </remarks>
public sealed class ShardRunner : IDisposable
{
    /// <summary>Environment variable that sets <see cref="Shared"/>'s degree (default: the processor count).</summary>
    public const string DegreeVariable = "FLOWSERVICE_THREADS";

    /// <summary>The most shards one run can have (the width of the claim word's counters).</summary>
    public const int MaxShards = (1 << CounterBits) - 1;

    private const int CounterBits = 20;
    private const long CounterMask = (1L << CounterBits) - 1;
    private const int GenerationMask = (1 << 23) - 1;

    private static readonly Lazy<ShardRunner> SharedRunner = new(() => new ShardRunner(DegreeFromEnvironment()));

    private readonly Thread[] _workers;
    private readonly object _gate = new();
    private readonly long _spinTicks;

    private int _busy;                  // 1 while a run owns the workers
    private int _runCount;              // generation counter of the owning callers
    private int _generation;            // the run workers should join; 0 = none yet
    private long _claim;                // generation << 40 | shards << 20 | next shard
    private int _completed;             // shards of the current run that have finished
    private int _sleepers;              // workers blocked on _gate
    private ShardJob? _job;
    private Exception? _error;
    private volatile bool _disposed;

    /// <param name="degree">Threads that work on one run, the caller included (1 = everything inline).</param>
    /// <param name="spinTime">How long an idle worker spins before it blocks (default 100 µs).</param>
    public ShardRunner(int degree, TimeSpan? spinTime = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(degree);
        Degree = degree;
        SpinTime = spinTime ?? TimeSpan.FromMicroseconds(100);
        _spinTicks = (long)(SpinTime.TotalSeconds * Stopwatch.Frequency);
        _workers = new Thread[degree - 1];
        for (int i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new Thread(WorkerLoop) { IsBackground = true, Name = $"FlowService shard worker {i + 1}" };
            _workers[i].Start();
        }
    }

    /// <summary>The process-wide runner, <see cref="DegreeVariable"/> threads or one per processor.</summary>
    public static ShardRunner Shared => SharedRunner.Value;

    /// <summary>Threads that work on one run, the calling thread included.</summary>
    public int Degree { get; }

    public TimeSpan SpinTime { get; }

    /// <summary>A useful shard count for <paramref name="work"/> items when a shard should get at least <paramref name="minWorkPerShard"/>.</summary>
    public int ShardsFor(long work, long minWorkPerShard)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(minWorkPerShard);
        return (int)Math.Clamp(work / minWorkPerShard, 1, Degree);
    }

    /// <summary>Runs <paramref name="body"/>(0) ... <paramref name="body"/>(shards - 1), shard 0 on the calling thread.</summary>
    public void Run(int shards, Action<int> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        Run(shards, new ActionBody(body));
    }

    /// <summary>Runs <paramref name="body"/>.Run(0 .. shards - 1) without allocating, shard 0 on the calling thread.</summary>
    public void Run<TBody>(int shards, TBody body) where TBody : struct, IShardBody
    {
        ArgumentOutOfRangeException.ThrowIfNegative(shards);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shards, MaxShards);
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (shards == 0)
            return;
        if (shards == 1 || _workers.Length == 0 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int s = 0; s < shards; s++)
                body.Run(s);
            return;
        }

        var job = ShardJob<TBody>.Rent(body);
        try
        {
            int generation = ++_runCount & GenerationMask;
            if (generation == 0)
                generation = _runCount = 1;
            _job = job;
            _error = null;
            _completed = 0;
            // The caller has claimed shard 0 already: next = 1.
            Interlocked.Exchange(ref _claim, ((long)generation << (2 * CounterBits)) | ((long)shards << CounterBits) | 1);
            Interlocked.Exchange(ref _generation, generation);
            if (Volatile.Read(ref _sleepers) != 0)
                lock (_gate)
                    Monitor.PulseAll(_gate);

            Execute(job, 0);
            ClaimAndExecute(generation);

            var wait = new SpinWait();
            while (Volatile.Read(ref _completed) != shards)
                wait.SpinOnce(sleep1Threshold: -1);

            if (_error is { } error)
                ExceptionDispatchInfo.Capture(error).Throw();
        }
        finally
        {
            _job = null;
            _error = null;
            ShardJob<TBody>.Return(job);
            Volatile.Write(ref _busy, 0);
        }
    }

    /// <summary>Stops the workers (they finish the run in progress first). <see cref="Shared"/> is never disposed.</summary>
    public void Dispose()
    {
        _disposed = true;
        lock (_gate)
            Monitor.PulseAll(_gate);
    }

    private static int DegreeFromEnvironment() =>
        int.TryParse(Environment.GetEnvironmentVariable(DegreeVariable), out int degree) && degree > 0
            ? degree
            : Environment.ProcessorCount;

    private void WorkerLoop()
    {
        int seen = 0;
        while (!_disposed)
        {
            int generation = WaitForRun(seen);
            if (generation == seen)
                continue;
            seen = generation;
            ClaimAndExecute(generation);
        }
    }

    /// <summary>Spins for <see cref="SpinTime"/>, then blocks, until the generation differs from <paramref name="seen"/> (or disposal).</summary>
    private int WaitForRun(int seen)
    {
        long deadline = Stopwatch.GetTimestamp() + _spinTicks;
        int generation;
        while ((generation = Volatile.Read(ref _generation)) == seen)
        {
            if (_disposed)
                return seen;
            if (Stopwatch.GetTimestamp() > deadline)
            {
                lock (_gate)
                {
                    // Dekker pair with Run: it writes _generation then reads _sleepers; we write _sleepers then read _generation.
                    Interlocked.Increment(ref _sleepers);
                    while ((generation = Volatile.Read(ref _generation)) == seen && !_disposed)
                        Monitor.Wait(_gate);
                    Interlocked.Decrement(ref _sleepers);
                }
                return generation;
            }
            Thread.SpinWait(16);
        }
        return generation;
    }

    private void ClaimAndExecute(int generation)
    {
        while (true)
        {
            long claim = Volatile.Read(ref _claim);
            int next = (int)(claim & CounterMask);
            int shards = (int)((claim >> CounterBits) & CounterMask);
            if ((int)(claim >> (2 * CounterBits)) != generation || next >= shards)
                return;
            if (Interlocked.CompareExchange(ref _claim, claim + 1, claim) != claim)
                continue;
            // Safe: the run cannot end (and _job cannot change) before this claimed shard completes.
            Execute(Volatile.Read(ref _job)!, next);
        }
    }

    private void Execute(ShardJob job, int shard)
    {
        try
        {
            job.Execute(shard);
        }
        catch (Exception e)
        {
            Interlocked.CompareExchange(ref _error, e, null);
        }
        finally
        {
            Interlocked.Increment(ref _completed);
        }
    }

    private readonly struct ActionBody(Action<int> action) : IShardBody
    {
        public void Run(int shard) => action(shard);
    }

    private abstract class ShardJob
    {
        public abstract void Execute(int shard);
    }

    /// <summary>Holds a struct body where every worker can reach it; one cached per thread and body type.</summary>
    private sealed class ShardJob<TBody> : ShardJob where TBody : struct, IShardBody
    {
        [ThreadStatic] private static ShardJob<TBody>? t_free;

        private TBody _body;

        public static ShardJob<TBody> Rent(TBody body)
        {
            var job = t_free ?? new ShardJob<TBody>();
            t_free = null;
            job._body = body;
            return job;
        }

        public static void Return(ShardJob<TBody> job)
        {
            job._body = default;    // drop references the body held
            t_free = job;
        }

        public override void Execute(int shard) => _body.Run(shard);
    }
}
