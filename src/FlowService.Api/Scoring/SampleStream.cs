using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using FlowService.Api.Payloads;
using FlowService.Training.Datasets;
using FlowService.Training.Engine;

namespace FlowService.Api.Scoring;

/// <summary>
/// Writes n samples chunk by chunk as CSV, JSON or float32 .npy, so a large n never sits in memory whole: one
/// chunk of <c>chunkRows</c> rows is drawn, formatted into the response pipe and flushed (the flush waits for a
/// slow client) before the next is drawn. Chunk k draws with seed <c>seed</c> when n fits one chunk, else with a
/// seed derived from (seed, k): the same request always returns the same samples, in every format. An image model's
/// .npy is its samples as uint8 pixels shaped (n, H, W) or (n, C, H, W) (<see cref="WriteImageNpyAsync"/>).
/// </summary>
public sealed class SampleStream(IDensityFlow flow, IReadOnlyList<string> columns, float[] contextRow, int n, int seed, float temperature, int chunkRows)
{
    /// <summary>Bytes of the .npy answer (known before sampling, so it is sent as Content-Length).</summary>
    public long NpyLength => NpyMatrix.FileLength(n, columns.Count);

    public async Task WriteNpyAsync(PipeWriter body, CancellationToken cancellationToken)
    {
        body.Write(NpyMatrix.Header(n, columns.Count));
        await body.FlushAsync(cancellationToken);
        var x = new float[Math.Min(chunkRows, n) * columns.Count];
        for (int done = 0, k = 0; done < n; done += chunkRows, k++)
        {
            int rows = Draw(x, done, k);
            body.Write(MemoryMarshal.AsBytes(x.AsSpan(0, rows * columns.Count)));
            await body.FlushAsync(cancellationToken);
        }
    }

    /// <summary>Bytes of an image model's uint8 .npy answer.</summary>
    public static long ImageNpyLength(ImageModelShape image, int n) => ImageNpyHeader(image, n).Length + (long)n * image.Channels * image.Height * image.Width;

    /// <summary>The samples as uint8 pixels (<see cref="ImageModelShape.ToByte"/>), (n, H, W) for one channel, else (n, C, H, W).</summary>
    public async Task WriteImageNpyAsync(ImageModelShape image, PipeWriter body, CancellationToken cancellationToken)
    {
        body.Write(ImageNpyHeader(image, n));
        await body.FlushAsync(cancellationToken);
        var x = new float[Math.Min(chunkRows, n) * columns.Count];
        var pixels = new byte[x.Length];
        for (int done = 0, k = 0; done < n; done += chunkRows, k++)
        {
            int values = Draw(x, done, k) * columns.Count;
            for (int i = 0; i < values; i++)
                pixels[i] = image.ToByte(x[i]);
            body.Write(pixels.AsSpan(0, values));
            await body.FlushAsync(cancellationToken);
        }
    }

    static byte[] ImageNpyHeader(ImageModelShape image, int n) => image.Channels == 1
        ? NpyHeader.Write("|u1", n, image.Height, image.Width)
        : NpyHeader.Write("|u1", n, image.Channels, image.Height, image.Width);

    public async Task WriteCsvAsync(PipeWriter body, CancellationToken cancellationToken)
    {
        body.Write(Encoding.UTF8.GetBytes(string.Join(',', columns) + "\n"));
        await body.FlushAsync(cancellationToken);
        var x = new float[Math.Min(chunkRows, n) * columns.Count];
        for (int done = 0, k = 0; done < n; done += chunkRows, k++)
        {
            int rows = Draw(x, done, k);
            FormatRows(body, x, rows, csv: true, first: done == 0);
            await body.FlushAsync(cancellationToken);
        }
    }

    public async Task WriteJsonAsync(PipeWriter body, string model, int version, CancellationToken cancellationToken)
    {
        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"{{\"model\":{JsonSerializer.Serialize(model)},\"version\":{version},\"columns\":[");
        head.Append(string.Join(',', columns.Select(c => JsonSerializer.Serialize(c)))).Append("],\"rows\":[");
        body.Write(Encoding.UTF8.GetBytes(head.ToString()));
        await body.FlushAsync(cancellationToken);
        var x = new float[Math.Min(chunkRows, n) * columns.Count];
        for (int done = 0, k = 0; done < n; done += chunkRows, k++)
        {
            int rows = Draw(x, done, k);
            FormatRows(body, x, rows, csv: false, first: done == 0);
            await body.FlushAsync(cancellationToken);
        }
        body.Write("]}"u8);
        await body.FlushAsync(cancellationToken);
    }

    int Draw(float[] x, int done, int k)
    {
        int rows = Math.Min(chunkRows, n - done);
        var context = new float[rows * contextRow.Length];
        for (int r = 0; r < rows; r++)
            contextRow.CopyTo(context, r * contextRow.Length);
        int chunkSeed = n <= chunkRows ? seed : unchecked(seed * 1_000_003 + k);
        flow.Sample(rows, chunkSeed, temperature, context, x.AsSpan(0, rows * columns.Count));
        return rows;
    }

    /// <summary>
    /// UTF-8 straight into the pipe: shortest round-trip floats, CSV lines or JSON arrays ("[a,b]" joined by commas);
    /// a non-finite value is null in JSON and an empty field in CSV.
    /// </summary>
    void FormatRows(PipeWriter body, float[] x, int rows, bool csv, bool first)
    {
        int d = columns.Count;
        // A float32 takes at most 15 characters ("-1.1754944E-38") plus a separator; a row adds brackets and a comma.
        int rowBytes = d * 16 + 3;
        for (int r = 0; r < rows; r++)
        {
            var span = body.GetSpan(rowBytes);
            int at = 0;
            if (!csv)
            {
                if (!(first && r == 0))
                    span[at++] = (byte)',';
                span[at++] = (byte)'[';
            }
            for (int c = 0; c < d; c++)
            {
                if (c > 0)
                    span[at++] = (byte)',';
                float value = x[r * d + c];
                if (float.IsFinite(value))
                {
                    value.TryFormat(span[at..], out int written, default, CultureInfo.InvariantCulture);
                    at += written;
                }
                else if (!csv)
                {
                    // A sample that overflowed (a far-tail draw of an imperfect model) is JSON null, as /score writes a
                    // log p it cannot represent; CSV leaves the field empty. "NaN" or "∞" would make the body invalid.
                    "null"u8.CopyTo(span[at..]);
                    at += 4;
                }
            }
            span[at++] = csv ? (byte)'\n' : (byte)']';
            body.Advance(at);
        }
    }
}
