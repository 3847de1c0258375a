using System.Diagnostics;
using System.Text.Json;
using FlowService.Api.Security;
using FlowService.Training.Keys;
using FlowService.Training.Storage;
using Microsoft.Extensions.Options;

namespace FlowService.ServingLoad;

/// <summary>
/// What checking an API key costs per request, in process: <see cref="ApiKeyValidator.ValidateAsync"/> on a key in its
/// cache (SHA-256 of the key, a dictionary hit, the last-used stamp), and with the cache off (a SQLite look-up per call,
/// the path PostgreSQL deployments take against their database).
/// </summary>
public static class KeyCheck
{
    public static async Task<int> RunAsync(string folder, double seconds)
    {
        Directory.CreateDirectory(folder);
        var store = new SqliteApiKeyStore(new SqliteDatabase(Path.Combine(folder, "keycheck.db")));
        string key = ApiKeys.New();
        await store.AddAsync(new ApiKeyRecord(Guid.NewGuid().ToString("N"), "bench", ApiRoles.Scorer, ApiKeys.Hash(key), DateTimeOffset.UtcNow, null, null));
        var cached = new ApiKeyValidator(store, Options.Create(new AuthOptions()), TimeProvider.System);
        var uncached = new ApiKeyValidator(store, Options.Create(new AuthOptions { KeyCacheMilliseconds = 0 }), TimeProvider.System);
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "keycheck",
            cachedMicroseconds = await MeasureAsync(cached, key, seconds),
            storeLookupMicroseconds = await MeasureAsync(uncached, key, seconds),
        }));
        return 0;
    }

    /// <summary>Best of five equal slices of <paramref name="seconds"/>, in microseconds per check (the machine is shared).</summary>
    static async Task<double> MeasureAsync(ApiKeyValidator validator, string key, double seconds)
    {
        for (int i = 0; i < 1000; i++)
            await validator.ValidateAsync(key, CancellationToken.None);
        double best = double.MaxValue;
        for (int slice = 0; slice < 5; slice++)
        {
            var clock = Stopwatch.StartNew();
            long calls = 0;
            while (clock.Elapsed.TotalSeconds < seconds / 5)
            {
                for (int i = 0; i < 100; i++)
                    if ((await validator.ValidateAsync(key, CancellationToken.None)).Key is null)
                        throw new InvalidOperationException("the key did not validate");
                calls += 100;
            }
            best = Math.Min(best, clock.Elapsed.TotalMicroseconds / calls);
        }
        return Math.Round(best, 3);
    }
}
