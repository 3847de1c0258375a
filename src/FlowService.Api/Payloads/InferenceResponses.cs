using System.Buffers;
using System.Runtime.InteropServices;
using System.Text.Json;
using FlowService.Training.Registry;

namespace FlowService.Api.Payloads;

/// <summary>
/// Writes /score, /encode and /decode answers with <see cref="Utf8JsonWriter"/> (or as float32 .npy) straight into
/// the response pipe, flushing as it goes so a large answer does not pile up. JSON cannot carry infinities: a
/// log p that underflowed to -inf is written as null (its anomaly flag is true and its percentile 0). /score on an
/// image model also answers bitsPerDim per image.
/// </summary>
public static class InferenceResponses
{
    const int FlushBytes = 1 << 16;

    public static IResult Score(ModelVersion version, float[] logProb, int rows, double threshold) =>
        new WrittenResult(MediaTypes.Json + "; charset=utf-8", async response =>
        {
            await using var json = new Utf8JsonWriter(response.BodyWriter);
            json.WriteStartObject();
            Header(json, version);
            json.WriteStartArray("logProb");
            for (int r = 0; r < rows; r++)
            {
                Number(json, logProb[r]);
                await FlushSometimes(json, response);
            }
            json.WriteEndArray();
            json.WriteStartArray("anomaly");
            for (int r = 0; r < rows; r++)
                json.WriteBooleanValue(!(logProb[r] >= threshold));
            json.WriteEndArray();
            await FlushSometimes(json, response);
            json.WriteStartArray("percentile");
            for (int r = 0; r < rows; r++)
            {
                json.WriteNumberValue(version.Calibration.Percentile(logProb[r]));
                await FlushSometimes(json, response);
            }
            json.WriteEndArray();
            if (ImageModelShape.Of(version) is not null)
            {
                // Image models: -log p / (D ln 2) per image, the unit image densities are compared in.
                double perBit = version.Columns.Count * Math.Log(2);
                json.WriteStartArray("bitsPerDim");
                for (int r = 0; r < rows; r++)
                {
                    Number(json, (float)(-logProb[r] / perBit));
                    await FlushSometimes(json, response);
                }
                json.WriteEndArray();
            }
            json.WriteNumber("anomalyThreshold", threshold);
            json.WriteEndObject();
        });

    /// <summary>JSON {z, logDet}, or a (rows, D + 1) .npy whose last column is log|det ∂f/∂x|.</summary>
    public static IResult Encode(PayloadFormat format, ModelVersion version, float[] z, float[] logDet, int rows, int d)
    {
        if (format == PayloadFormat.Npy)
        {
            var packed = new float[rows * (d + 1)];
            for (int r = 0; r < rows; r++)
            {
                z.AsSpan(r * d, d).CopyTo(packed.AsSpan(r * (d + 1)));
                packed[r * (d + 1) + d] = logDet[r];
            }
            return Npy(version, packed, rows, d + 1);
        }
        return new WrittenResult(MediaTypes.Json + "; charset=utf-8", async response =>
        {
            await using var json = new Utf8JsonWriter(response.BodyWriter);
            json.WriteStartObject();
            Header(json, version);
            json.WritePropertyName("z");
            await Rows(json, response, z, rows, d);
            json.WriteStartArray("logDet");
            for (int r = 0; r < rows; r++)
                Number(json, logDet[r]);
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    /// <summary>JSON {columns, rows}, or a (rows, D) .npy in the training columns' order.</summary>
    public static IResult Decode(PayloadFormat format, ModelVersion version, float[] x, int rows, int d)
    {
        if (format == PayloadFormat.Npy)
            return Npy(version, x, rows, d);
        return new WrittenResult(MediaTypes.Json + "; charset=utf-8", async response =>
        {
            await using var json = new Utf8JsonWriter(response.BodyWriter);
            json.WriteStartObject();
            Header(json, version);
            json.WriteStartArray("columns");
            foreach (var column in version.Columns)
                json.WriteStringValue(column);
            json.WriteEndArray();
            json.WritePropertyName("rows");
            await Rows(json, response, x, rows, d);
            json.WriteEndObject();
        });
    }

    static IResult Npy(ModelVersion version, float[] values, int rows, int columns)
    {
        byte[] header = NpyMatrix.Header(rows, columns);
        return new WrittenResult(MediaTypes.Npy, async response =>
        {
            response.Headers["X-Model-Version"] = version.Version.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Copy(response, header, values, rows * columns);
            await response.BodyWriter.FlushAsync();
        }, header.Length + rows * columns * 4L);
    }

    static void Copy(HttpResponse response, byte[] header, float[] values, int count)
    {
        response.BodyWriter.Write(header);
        response.BodyWriter.Write(MemoryMarshal.AsBytes(values.AsSpan(0, count)));
    }

    static void Header(Utf8JsonWriter json, ModelVersion version)
    {
        json.WriteString("model", version.Model);
        json.WriteNumber("version", version.Version);
    }

    static async Task Rows(Utf8JsonWriter json, HttpResponse response, float[] values, int rows, int d)
    {
        json.WriteStartArray();
        for (int r = 0; r < rows; r++)
        {
            json.WriteStartArray();
            for (int c = 0; c < d; c++)
                Number(json, values[r * d + c]);
            json.WriteEndArray();
            await FlushSometimes(json, response);
        }
        json.WriteEndArray();
    }

    static void Number(Utf8JsonWriter json, float value)
    {
        if (float.IsFinite(value))
            json.WriteNumberValue(value);
        else
            json.WriteNullValue();
    }

    static async ValueTask FlushSometimes(Utf8JsonWriter json, HttpResponse response)
    {
        if (json.BytesPending < FlushBytes)
            return;
        json.Flush();
        await response.BodyWriter.FlushAsync();
    }
}
