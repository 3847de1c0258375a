using System.Diagnostics;
using FlowService.Api.Observability;
using FlowService.Training.Observability;

namespace FlowService.Api.Scoring;

/// <summary>
/// Dynamic batching as Triton does it: requests for one model version and operation wait in a bounded
/// queue; a dedicated thread takes the oldest, holds it back at most <see cref="ScoringOptions.MaxQueueDelayMicroseconds"/>
/// for others to join, runs them as one engine batch of at most <see cref="ScoringOptions.MaxBatchRows"/> rows and
/// copies each request's rows back. A request that is a full batch by itself is a batch of its own, but it still
/// queues: one engine call per model version at a time keeps the cores busy without oversubscribing them, and keeps
/// large requests under the same bounds. With batching off every request runs on its caller's thread. Past <see cref="ScoringOptions.MaxQueuedRows"/> queued rows a request is refused,
/// and one that waited past <see cref="ScoringOptions.MaxQueueWaitMilliseconds"/> is failed instead of computed late,
/// so overload shows up as quick 503s rather than growing latency and memory.
/// </summary>
public sealed class DynamicBatcher : IDisposable
{
    readonly BatchOperation _operation;
    readonly InferenceMetrics _metrics;
    readonly bool _enabled;
    readonly int _maxBatchRows;
    readonly long _maxDelayTicks;
    readonly long _maxWaitTicks;
    readonly int _maxQueuedRows;
    readonly object _gate = new();
    readonly Queue<Pending> _queue = new();
    readonly List<Pending> _batch = [];
    int _queuedRows;
    bool _gathering;
    bool _idle;
    bool _disposed;
    float[] _input = [], _context = [], _output0 = [], _output1 = [];

    public DynamicBatcher(BatchOperation operation, ScoringOptions options, InferenceMetrics metrics, string name)
    {
        _operation = operation;
        _metrics = metrics;
        _enabled = options.BatchingEnabled && options.MaxBatchRows > 1;
        // The options were validated at start (ScoringOptions' ranges): no clamping here.
        _maxBatchRows = options.MaxBatchRows;
        _maxDelayTicks = (long)options.MaxQueueDelayMicroseconds * Stopwatch.Frequency / 1_000_000;
        _maxWaitTicks = (long)options.MaxQueueWaitMilliseconds * Stopwatch.Frequency / 1000;
        _maxQueuedRows = options.MaxQueuedRows;
        if (_enabled)
        {
            new Thread(Loop) { IsBackground = true, Name = $"batcher {name}" }.Start();
        }
    }

    public BatchOperation Operation => _operation;

    /// <summary>Computes <paramref name="rows"/> rows; the outputs are filled when the task completes.</summary>
    /// <exception cref="ServiceOverloadedException">The queue is full, or the request waited too long for its batch.</exception>
    public Task RunAsync(float[] input, float[] context, int rows, float[] output0, float[] output1, CancellationToken cancellationToken)
    {
        if (!_enabled)
        {
            RunAlone(input, context, rows, output0, output1, Activity.Current?.Context ?? default);
            return Task.CompletedTask;
        }
        var pending = new Pending(input, context, rows, output0, output1, Stopwatch.GetTimestamp(), Activity.Current?.Context ?? default, cancellationToken);
        lock (_gate)
        {
            if (_disposed)
            {
                RunAlone(input, context, rows, output0, output1, Activity.Current?.Context ?? default);
                return Task.CompletedTask;
            }
            // A request larger than the queue's bound is still taken when the queue is empty: MaxScoreRows bounds it.
            if (_queuedRows > 0 && _queuedRows + rows > _maxQueuedRows)
            {
                _metrics.RecordRejection(OverloadReason.QueueFull);
                throw new ServiceOverloadedException(OverloadReason.QueueFull,
                    $"The {_operation.Kind.ToString().ToLowerInvariant()} queue of this model version holds {_queuedRows} rows; at most {_maxQueuedRows} may wait (FlowService:Scoring:MaxQueuedRows).");
            }
            _queue.Enqueue(pending);
            _queuedRows += rows;
            // Wake the thread only when it sleeps for lack of work or a batch just filled: a wake-up per request costs a context switch.
            if (_idle || (_gathering && _queuedRows >= _maxBatchRows))
                Monitor.Pulse(_gate);
        }
        return pending.Completion.Task;
    }

    void RunAlone(float[] input, float[] context, int rows, float[] output0, float[] output1, ActivityContext trace)
    {
        var op = _operation;
        using var span = StartBatchSpan(rows, 1, trace, links: null);
        op.Kernel(input.AsSpan(0, rows * op.InputWidth), context.AsSpan(0, rows * op.ContextWidth), rows,
            output0.AsSpan(0, rows * op.Output0Width), output1.AsSpan(0, rows * op.Output1Width));
        _metrics.RecordBatch(op.Kind, rows, 1);
    }

    void Loop()
    {
        while (true)
        {
            lock (_gate)
            {
                while (_queue.Count == 0)
                {
                    if (_disposed)
                        return;
                    _idle = true;
                    Monitor.Wait(_gate);
                    _idle = false;
                }
                long deadline = _queue.Peek().Enqueued + _maxDelayTicks;
                _gathering = true;
                while (_queuedRows < _maxBatchRows && !_disposed)
                {
                    long remaining = deadline - Stopwatch.GetTimestamp();
                    if (remaining <= 0)
                        break;
                    // Timed waits have millisecond resolution: round up, so a sub-millisecond delay never spins.
                    Monitor.Wait(_gate, (int)Math.Ceiling(remaining * 1000.0 / Stopwatch.Frequency));
                }
                _gathering = false;
                Take();
            }
            Execute();
        }
    }

    /// <summary>Moves waiting requests into <see cref="_batch"/> up to a full batch (at least one); drops timed-out and cancelled ones.</summary>
    void Take()
    {
        _batch.Clear();
        int rows = 0;
        long now = Stopwatch.GetTimestamp();
        while (_queue.Count > 0 && (rows == 0 || rows + _queue.Peek().Rows <= _maxBatchRows))
        {
            var next = _queue.Dequeue();
            _queuedRows -= next.Rows;
            long waited = now - next.Enqueued;
            if (next.Cancellation.IsCancellationRequested)
            {
                next.Completion.TrySetCanceled(next.Cancellation);
                continue;
            }
            if (waited > _maxWaitTicks)
            {
                _metrics.RecordRejection(OverloadReason.QueueTimeout);
                next.Completion.TrySetException(new ServiceOverloadedException(OverloadReason.QueueTimeout,
                    $"The request waited {waited * 1000.0 / Stopwatch.Frequency:0} ms for its batch; at most {_maxWaitTicks * 1000 / Stopwatch.Frequency} ms are allowed (FlowService:Scoring:MaxQueueWaitMilliseconds)."));
                continue;
            }
            _metrics.RecordQueueDelay(_operation.Kind, waited / (double)Stopwatch.Frequency);
            _batch.Add(next);
            rows += next.Rows;
        }
    }

    void Execute()
    {
        if (_batch.Count == 0)
            return;
        var op = _operation;
        try
        {
            if (_batch.Count == 1)
            {
                var only = _batch[0];
                RunAlone(only.Input, only.Context, only.Rows, only.Output0, only.Output1, only.Trace);
            }
            else
            {
                int rows = 0;
                foreach (var p in _batch)
                    rows += p.Rows;
                // A merged batch serves many traces: it is a root span linked to each request's span.
                using var span = FlowServiceTracing.Source.HasListeners()
                    ? StartBatchSpan(rows, _batch.Count, default, _batch.Where(p => p.Trace != default).Select(p => new ActivityLink(p.Trace)).ToList())
                    : null;
                Ensure(ref _input, rows * op.InputWidth);
                Ensure(ref _context, rows * op.ContextWidth);
                Ensure(ref _output0, rows * op.Output0Width);
                Ensure(ref _output1, rows * op.Output1Width);
                int at = 0;
                foreach (var p in _batch)
                {
                    p.Input.AsSpan(0, p.Rows * op.InputWidth).CopyTo(_input.AsSpan(at * op.InputWidth));
                    p.Context.AsSpan(0, p.Rows * op.ContextWidth).CopyTo(_context.AsSpan(at * op.ContextWidth));
                    at += p.Rows;
                }
                op.Kernel(_input.AsSpan(0, rows * op.InputWidth), _context.AsSpan(0, rows * op.ContextWidth), rows,
                    _output0.AsSpan(0, rows * op.Output0Width), _output1.AsSpan(0, rows * op.Output1Width));
                _metrics.RecordBatch(op.Kind, rows, _batch.Count);
                at = 0;
                foreach (var p in _batch)
                {
                    _output0.AsSpan(at * op.Output0Width, p.Rows * op.Output0Width).CopyTo(p.Output0);
                    _output1.AsSpan(at * op.Output1Width, p.Rows * op.Output1Width).CopyTo(p.Output1);
                    at += p.Rows;
                }
            }
            foreach (var p in _batch)
                p.Completion.TrySetResult();
        }
        catch (Exception e)
        {
            foreach (var p in _batch)
                p.Completion.TrySetException(e);
        }
        _batch.Clear();
    }

    Activity? StartBatchSpan(int rows, int requests, ActivityContext parent, IEnumerable<ActivityLink>? links)
    {
        // Without a listener (no tracing configured) no span and no name string: this runs for every request.
        if (!FlowServiceTracing.Source.HasListeners())
            return null;
        var span = FlowServiceTracing.Source.StartActivity(ActivityKind.Internal, parent, links: links,
            name: "engine batch " + _operation.Kind.ToString().ToLowerInvariant());
        span?.SetTag("flowservice.batch.rows", rows);
        span?.SetTag("flowservice.batch.requests", requests);
        return span;
    }

    static void Ensure(ref float[] buffer, int length)
    {
        if (buffer.Length < length)
            buffer = new float[Math.Max(length, buffer.Length * 2)];
    }

    /// <summary>Stops taking requests; the thread finishes what is queued, later requests run on their callers' threads.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }

    sealed class Pending(float[] input, float[] context, int rows, float[] output0, float[] output1, long enqueued, ActivityContext trace, CancellationToken cancellation)
    {
        public float[] Input { get; } = input;
        public float[] Context { get; } = context;
        public int Rows { get; } = rows;
        public float[] Output0 { get; } = output0;
        public float[] Output1 { get; } = output1;
        public long Enqueued { get; } = enqueued;
        public ActivityContext Trace { get; } = trace;
        public CancellationToken Cancellation { get; } = cancellation;

        // Continuations (writing the response) run on the thread pool, never on the batcher's thread.
        public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
