using FlowService.Api.Scoring;

namespace FlowService.Api.Tests;

public class LruCacheTests
{
    sealed class Resource(int id) : IDisposable
    {
        public int Id { get; } = id;

        public bool Disposed { get; private set; }

        public void Dispose() => Disposed = true;
    }

    [Fact]
    public async Task Evicts_the_least_recently_used_and_disposes_it()
    {
        var cache = new LruCache<int, Resource>(2);
        int loads = 0;
        Task<Resource> Load(int k) { loads++; return Task.FromResult(new Resource(k)); }

        var one = await cache.GetOrLoadAsync(1, Load);
        await cache.GetOrLoadAsync(2, Load);
        Assert.Same(one, await cache.GetOrLoadAsync(1, Load));
        await cache.GetOrLoadAsync(3, Load);
        Assert.True(cache.Contains(1));
        Assert.False(cache.Contains(2));
        Assert.Equal(3, loads);
        Assert.Equal((1, 3), (cache.Hits, cache.Misses));
        var two = await cache.GetOrLoadAsync(2, Load);
        Assert.Equal(2, two.Id);
        Assert.True(cache.Contains(3));
        Assert.True(one.Disposed);
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public async Task Concurrent_misses_share_one_load_and_failures_are_not_cached()
    {
        var cache = new LruCache<string, int>(4);
        int loads = 0;
        var gate = new TaskCompletionSource();
        async Task<int> Slow(string _) { Interlocked.Increment(ref loads); await gate.Task; return 42; }
        var first = cache.GetOrLoadAsync("a", Slow);
        var second = cache.GetOrLoadAsync("a", Slow);
        gate.SetResult();
        Assert.Equal(new[] { 42, 42 }, await Task.WhenAll(first, second));
        Assert.Equal(1, loads);

        await Assert.ThrowsAsync<IOException>(() => cache.GetOrLoadAsync("b", _ => Task.FromException<int>(new IOException("disk"))));
        Assert.False(cache.Contains("b"));
        Assert.Equal(7, await cache.GetOrLoadAsync("b", _ => Task.FromResult(7)));
    }
}
