using System.IO.Pipelines;
using System.Text;
using System.Text.Json;
using FlowService.Api.Scoring;
using FlowService.Training.Engine;

namespace FlowService.Api.Tests.Scoring;

/// <summary>
/// Samples that overflowed (far-tail draws of an imperfect model) keep the body valid: JSON null, an empty CSV field;
/// finite values round-trip exactly.
/// </summary>
public sealed class SampleStreamTests
{
    static readonly float[] Values = [1.5f, float.NaN, -0.25f, float.PositiveInfinity, float.NegativeInfinity, 3e-7f];

    [Fact]
    public async Task Non_finite_samples_are_null_in_json_and_finite_ones_round_trip()
    {
        var stream = new SampleStream(new FixedSamples(), ["a", "b"], [], 3, seed: 1, temperature: 1, chunkRows: 2);
        string body = await WriteAsync(pipe => stream.WriteJsonAsync(pipe, "m", 1, CancellationToken.None));
        using var json = JsonDocument.Parse(body);
        var rows = json.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.EnumerateArray().ToArray()).ToArray();
        Assert.Equal(3, rows.Length);
        Assert.Equal(1.5f, rows[0][0].GetSingle());
        Assert.Equal(JsonValueKind.Null, rows[0][1].ValueKind);
        Assert.Equal(-0.25f, rows[1][0].GetSingle());
        Assert.Equal(JsonValueKind.Null, rows[1][1].ValueKind);
        Assert.Equal(JsonValueKind.Null, rows[2][0].ValueKind);
        Assert.Equal(3e-7f, rows[2][1].GetSingle());
    }

    [Fact]
    public async Task Non_finite_samples_are_empty_csv_fields()
    {
        var stream = new SampleStream(new FixedSamples(), ["a", "b"], [], 3, seed: 1, temperature: 1, chunkRows: 3);
        string body = await WriteAsync(pipe => stream.WriteCsvAsync(pipe, CancellationToken.None));
        Assert.Equal("a,b\n1.5,\n-0.25,\n,3E-07\n", body);
    }

    static async Task<string> WriteAsync(Func<PipeWriter, Task> write)
    {
        var pipe = new Pipe();
        await write(pipe.Writer);
        await pipe.Writer.CompleteAsync();
        using var buffer = new MemoryStream();
        await pipe.Reader.CopyToAsync(buffer);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>Draws <see cref="Values"/> in order, continuing across calls (one call per chunk).</summary>
    sealed class FixedSamples : IDensityFlow
    {
        int _next;

        public int Features => 2;

        public int ContextFeatures => 0;

        public void LogProb(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> logProb) => throw new NotSupportedException();

        public void Encode(ReadOnlySpan<float> x, int rows, ReadOnlySpan<float> context, Span<float> z, Span<float> logDet) => throw new NotSupportedException();

        public void Decode(ReadOnlySpan<float> z, int rows, ReadOnlySpan<float> context, Span<float> x) => throw new NotSupportedException();

        public void Sample(int n, int seed, float temperature, ReadOnlySpan<float> context, Span<float> x)
        {
            for (int i = 0; i < n * 2; i++)
                x[i] = Values[_next++ % Values.Length];
        }
    }
}
