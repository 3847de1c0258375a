namespace FlowService.Api.Scoring;

/// <summary>
/// A bounded least-recently-used cache. Concurrent requests for a key that is not loaded share one
/// load (a lazy task per key); a failed load is not cached. Evicted values that are disposable are disposed.
/// </summary>
public sealed class LruCache<TKey, TValue>(int capacity) where TKey : notnull
{
    readonly object _gate = new();
    readonly Dictionary<TKey, LinkedListNode<(TKey Key, Lazy<Task<TValue>> Value)>> _entries = new();
    readonly LinkedList<(TKey Key, Lazy<Task<TValue>> Value)> _order = new();

    public int Capacity { get; } = Math.Max(1, capacity);

    public long Hits { get; private set; }

    public long Misses { get; private set; }

    public int Count
    {
        get
        {
            lock (_gate)
                return _entries.Count;
        }
    }

    /// <summary>Raised outside the lock after a lookup, with true for a hit; for metrics.</summary>
    public event Action<bool>? Lookup;

    public async Task<TValue> GetOrLoadAsync(TKey key, Func<TKey, Task<TValue>> load)
    {
        Lazy<Task<TValue>> entry;
        bool hit;
        List<Lazy<Task<TValue>>> evicted = [];
        lock (_gate)
        {
            hit = _entries.TryGetValue(key, out var node);
            if (hit)
            {
                _order.Remove(node!);
                _order.AddFirst(node!);
                entry = node!.Value.Value;
                Hits++;
            }
            else
            {
                entry = new Lazy<Task<TValue>>(() => load(key));
                _entries[key] = _order.AddFirst((key, entry));
                Misses++;
                while (_entries.Count > Capacity)
                {
                    var last = _order.Last!;
                    _order.RemoveLast();
                    _entries.Remove(last.Value.Key);
                    evicted.Add(last.Value.Value);
                }
            }
        }
        Lookup?.Invoke(hit);
        foreach (var old in evicted)
            if (old.IsValueCreated && old.Value.IsCompletedSuccessfully && old.Value.Result is IDisposable disposable)
                disposable.Dispose();
        try
        {
            return await entry.Value;
        }
        catch
        {
            Remove(key, entry);
            throw;
        }
    }

    /// <summary>Drops a key (e.g. its version was deleted), disposing its value when loaded and disposable.</summary>
    public void Remove(TKey key)
    {
        Lazy<Task<TValue>>? removed = null;
        lock (_gate)
            if (_entries.Remove(key, out var node))
            {
                _order.Remove(node);
                removed = node.Value.Value;
            }
        if (removed is { IsValueCreated: true } && removed.Value.IsCompletedSuccessfully && removed.Value.Result is IDisposable disposable)
            disposable.Dispose();
    }

    public bool Contains(TKey key)
    {
        lock (_gate)
            return _entries.ContainsKey(key);
    }

    void Remove(TKey key, Lazy<Task<TValue>> entry)
    {
        lock (_gate)
            if (_entries.TryGetValue(key, out var node) && ReferenceEquals(node.Value.Value, entry))
            {
                _entries.Remove(key);
                _order.Remove(node);
            }
    }
}
