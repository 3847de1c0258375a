using System.Diagnostics;
using System.Text.Json;

namespace FlowService.ServingLoad;

/// <summary>One streamed GET /sample: time to the first body byte, total time, rows/s, and the server's peak RSS during it (peak reset first).</summary>
public static class SampleDownload
{
    public static async Task<int> RunAsync(string url, string query, string accept, int serverPid)
    {
        using var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(5) };
        long rssBefore = ProcessMemory.RssBytes(serverPid);
        ProcessMemory.ResetPeak(serverPid);
        var request = new HttpRequestMessage(HttpMethod.Get, "/sample?" + query);
        request.Headers.Accept.ParseAdd(accept);
        var clock = Stopwatch.StartNew();
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var stream = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[1 << 16];
        long bytes = 0, newlines = 0;
        double firstByte = -1;
        int read;
        while ((read = await stream.ReadAsync(buffer)) > 0)
        {
            if (firstByte < 0)
                firstByte = clock.Elapsed.TotalMilliseconds;
            bytes += read;
            newlines += buffer.AsSpan(0, read).Count((byte)'\n');
        }
        double seconds = clock.Elapsed.TotalSeconds;
        int n = int.Parse(query.Split('&').First(p => p.StartsWith("n=")).Substring(2));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "sample",
            accept,
            n,
            bytes,
            timeToFirstByteMs = firstByte,
            seconds,
            rowsPerSecond = n / seconds,
            serverRssBeforeMiB = rssBefore / 1048576.0,
            serverPeakRssMiB = ProcessMemory.PeakBytes(serverPid) / 1048576.0,
        }));
        return 0;
    }
}
