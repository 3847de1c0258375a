using System.Globalization;
using System.Text;
using FlowService.Training.Engine;

namespace FlowService.Api.Scoring;

/// <summary>
/// Writes n samples chunk by chunk, so a large n never sits in memory whole. Chunk k draws with seed
/// <c>seed</c> when n fits one chunk, else with a seed derived from (seed, k): the same request always
/// returns the same samples.
/// </summary>
public sealed class SampleStream(IDensityFlow flow, IReadOnlyList<string> columns, float[] contextRow, int n, int seed, float temperature, int chunkRows)
{
    public async Task WriteCsvAsync(Stream body, CancellationToken cancellationToken)
    {
        var writer = new StreamWriter(body, new UTF8Encoding(false), 1 << 16);
        await writer.WriteAsync(string.Join(',', columns) + "\n");
        foreach (var (rows, x) in Chunks())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var text = new StringBuilder();
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < columns.Count; c++)
                {
                    if (c > 0) text.Append(',');
                    text.Append(x[r * columns.Count + c].ToString("R", CultureInfo.InvariantCulture));
                }
                text.Append('\n');
            }
            await writer.WriteAsync(text, cancellationToken);
            await writer.FlushAsync(cancellationToken);
        }
        await writer.FlushAsync(cancellationToken);
    }

    public async Task WriteJsonAsync(Stream body, string model, int version, CancellationToken cancellationToken)
    {
        var writer = new StreamWriter(body, new UTF8Encoding(false), 1 << 16);
        var names = string.Join(',', columns.Select(c => System.Text.Json.JsonSerializer.Serialize(c)));
        await writer.WriteAsync($"{{\"model\":{System.Text.Json.JsonSerializer.Serialize(model)},\"version\":{version},\"columns\":[{names}],\"rows\":[");
        bool first = true;
        foreach (var (rows, x) in Chunks())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var text = new StringBuilder();
            for (int r = 0; r < rows; r++)
            {
                text.Append(first ? "[" : ",[");
                first = false;
                for (int c = 0; c < columns.Count; c++)
                {
                    if (c > 0) text.Append(',');
                    text.Append(x[r * columns.Count + c].ToString("R", CultureInfo.InvariantCulture));
                }
                text.Append(']');
            }
            await writer.WriteAsync(text, cancellationToken);
            await writer.FlushAsync(cancellationToken);
        }
        await writer.WriteAsync("]}");
        await writer.FlushAsync(cancellationToken);
    }

    IEnumerable<(int Rows, float[] X)> Chunks()
    {
        int d = columns.Count;
        for (int done = 0, k = 0; done < n; done += chunkRows, k++)
        {
            int rows = Math.Min(chunkRows, n - done);
            var x = new float[rows * d];
            var context = new float[rows * contextRow.Length];
            for (int r = 0; r < rows; r++)
                contextRow.CopyTo(context, r * contextRow.Length);
            int chunkSeed = n <= chunkRows ? seed : unchecked(seed * 1_000_003 + k);
            flow.Sample(rows, chunkSeed, temperature, context, x);
            yield return (rows, x);
        }
    }
}
