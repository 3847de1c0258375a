using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.ServingLoad;

/// <summary>
/// Trains the benchmark model through the service: a synthetic 16-dimensional set (Gaussian latents through a fixed
/// nonlinear coupling of neighbouring coordinates, so a flow has something to learn), RealNVP with 8 affine couplings
/// and hidden [128, 128]; then points alias production at it (which warms it up) and writes the request bodies.
/// </summary>
public static class Prepare
{
    const int D = 16;

    public static async Task<int> RunAsync(string url, string outDir)
    {
        Directory.CreateDirectory(outDir);
        using var client = new HttpClient { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(10) };
        var train = Synthetic(20_000, 1);
        var upload = new ByteArrayContent(Npy(train, 20_000));
        upload.Headers.ContentType = new("application/x-npy");
        var dataset = await Json(await client.PostAsync("/datasets?name=bench16", upload));
        var job = await Json(await client.PostAsJsonAsync("/jobs", new
        {
            datasetId = dataset.GetProperty("id").GetString(),
            model = "bench",
            flow = new { type = "realnvp", layers = 8, hidden = new[] { 128, 128 } },
            training = new { epochs = 10, batchSize = 512, learningRate = 0.001 },
        }));
        string id = job.GetProperty("id").GetString()!;
        JsonElement state;
        while (true)
        {
            state = await Json(await client.GetAsync($"/jobs/{id}"));
            string s = state.GetProperty("state").GetString()!;
            if (s is "succeeded") break;
            if (s is "failed" or "cancelled") throw new InvalidOperationException($"training {s}: {state}");
            await Task.Delay(200);
        }
        await Json(await client.PutAsJsonAsync("/models/bench/aliases/production", new { version = 1 }));

        var held = Synthetic(1000, 2);
        File.WriteAllBytes(Path.Combine(outDir, "score1000.npy"), Npy(held, 1000));
        File.WriteAllText(Path.Combine(outDir, "score1000.json"), Body(held, 1000));
        File.WriteAllText(Path.Combine(outDir, "score1.json"), Body(held, 1));
        Console.WriteLine(JsonSerializer.Serialize(new
        {
            mode = "prepare",
            trainRows = 20_000,
            epochs = state.GetProperty("epoch").GetInt32(),
            trainingSamplesPerSecond = state.GetProperty("samplesPerSecond").GetDouble(),
            finalValidationNll = state.GetProperty("validationNll").EnumerateArray().Last().GetDouble(),
        }));
        return 0;
    }

    static float[] Synthetic(int rows, int seed)
    {
        var random = new Random(seed);
        var x = new float[rows * D];
        var z = new double[D];
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < D; i++)
                z[i] = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            for (int i = 0; i < D; i++)
                x[r * D + i] = (float)(z[i] + 0.8 * Math.Sin(1.5 * z[(i + 1) % D]) + 0.3 * z[(i + D - 1) % D] * z[(i + D - 1) % D]);
        }
        return x;
    }

    static string Body(float[] x, int rows)
    {
        var json = new StringBuilder("{\"model\":\"bench\",\"rows\":[");
        for (int r = 0; r < rows; r++)
        {
            json.Append(r == 0 ? "[" : ",[");
            for (int c = 0; c < D; c++)
                json.Append(c == 0 ? "" : ",").Append(x[r * D + c].ToString("R", CultureInfo.InvariantCulture));
            json.Append(']');
        }
        return json.Append("]}").ToString();
    }

    static byte[] Npy(float[] x, int rows)
    {
        string dict = $"{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {D}), }}";
        string header = dict.PadRight(64 * ((10 + dict.Length + 1 + 63) / 64) - 11) + "\n";
        using var stream = new MemoryStream();
        stream.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, (byte)(header.Length >> 8)]);
        stream.Write(Encoding.ASCII.GetBytes(header));
        stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(x.AsSpan()));
        return stream.ToArray();
    }

    static async Task<JsonElement> Json(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"{(int)response.StatusCode} {response.RequestMessage?.RequestUri}: {body}");
        return JsonDocument.Parse(body).RootElement.Clone();
    }
}
