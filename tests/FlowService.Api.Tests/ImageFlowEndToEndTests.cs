using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;

namespace FlowService.Api.Tests;

/// <summary>
/// Images through the running service: an IDX archive (gzipped, as MNIST ships) or an N-D .npy becomes an image
/// dataset that records its shape and range; a glow or realnvp job on it builds the multi-scale convolutional flow, trains
/// it on dequantized pixels and serves log p of images; bad image bodies are problems naming what is wrong.
/// </summary>
public class ImageFlowEndToEndTests
{
    /// <summary>8x8 images of one of two strokes (a bright vertical or horizontal bar) on a dark background, ±3 jitter.</summary>
    static byte[] Strokes(int count, int seed)
    {
        var random = new Random(seed);
        var pixels = new byte[count * 64];
        for (int n = 0; n < count; n++)
        {
            bool vertical = random.Next(2) == 0;
            for (int y = 0; y < 8; y++)
                for (int x = 0; x < 8; x++)
                    pixels[n * 64 + y * 8 + x] = (byte)Math.Clamp(((vertical ? x is 3 or 4 : y is 3 or 4) ? 220 : 20) + random.Next(-3, 4), 0, 255);
        }
        return pixels;
    }

    static byte[] Idx(byte[] values, params int[] shape)
    {
        var file = new byte[4 + 4 * shape.Length + values.Length];
        file[2] = 0x08;
        file[3] = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++)
            BinaryPrimitives.WriteInt32BigEndian(file.AsSpan(4 + 4 * i), shape[i]);
        values.CopyTo(file, 4 + 4 * shape.Length);
        return file;
    }

    static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
            gzip.Write(bytes);
        return output.ToArray();
    }

    static byte[] Npy(string descr, string shape, byte[] data)
    {
        var header = $"{{'descr': '{descr}', 'fortran_order': False, 'shape': ({shape}), }}";
        header += new string(' ', (64 - (10 + header.Length + 1) % 64) % 64) + "\n";
        var bytes = new List<byte> { 0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', 1, 0, (byte)header.Length, 0 };
        bytes.AddRange(Encoding.ASCII.GetBytes(header));
        bytes.AddRange(data);
        return bytes.ToArray();
    }

    static ByteArrayContent Body(byte[] bytes, string mediaType)
    {
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
        return content;
    }

    [Theory]
    [InlineData(StoreBackend.Sqlite)]
    [PostgresData]
    public async Task Idx_images_train_a_multi_scale_glow_that_scores_images_above_noise(StoreBackend backend)
    {
        await using var factory = new FlowServiceFactory(backend);
        var client = factory.CreateClient();
        var created = await (await client.PostAsync("/datasets?name=strokes", Body(Gzip(Idx(Strokes(256, 1), 256, 8, 8)), "application/octet-stream")))
            .AssertJson(HttpStatusCode.Created);
        var image = created.GetProperty("image");
        Assert.Equal((1, 8, 8), (image.GetProperty("channels").GetInt32(), image.GetProperty("height").GetInt32(), image.GetProperty("width").GetInt32()));
        Assert.True(image.GetProperty("discrete").GetBoolean());
        Assert.Equal("idx", created.Text("format"));
        Assert.Equal(64, created.GetProperty("columns").GetArrayLength());
        Assert.Equal("c0_y2_x5", created.GetProperty("columns")[21].GetString());

        var job = await (await client.PostAsJsonAsync("/jobs", new
        {
            datasetId = created.Text("id"),
            model = "strokes",
            // Glow's ActNorms take the pixels' scale from the data at once, so a few dozen steps already learn the strokes.
            flow = new { type = "glow", levels = 2, steps = 2, channels = 8, blocks = 1 },
            training = new { epochs = 6, batchSize = 32, learningRate = 0.002, patience = 6 },
        })).AssertJson(HttpStatusCode.Accepted);
        // The service gave the spec the dataset's image shape.
        Assert.Equal("[1,8,8]", job.GetProperty("flow").GetProperty("image").GetRawText());
        Assert.True(job.GetProperty("flow").GetProperty("inputNorm").GetBoolean());
        var done = await EndToEndTests.WaitAsync(client, job.Text("id")!, EndToEndTests.Finished, seconds: 240);
        Assert.Equal("succeeded", done.Text("state"));

        // Held-out strokes (at the centres of their pixel cells) score far above uniform noise, in the client's pixel units.
        var strokes = Strokes(20, 7).Select(v => v + 0.5).ToArray();
        var random = new Random(3);
        var noise = Enumerable.Range(0, 20 * 64).Select(_ => random.Next(256) + 0.5).ToArray();
        double[][] Rows(double[] values) => values.Chunk(64).ToArray();
        var strokeScores = await (await client.PostAsJsonAsync("/score", new { model = "strokes", rows = Rows(strokes) })).AssertJson(HttpStatusCode.OK);
        var noiseScores = await (await client.PostAsJsonAsync("/score", new { model = "strokes", rows = Rows(noise) })).AssertJson(HttpStatusCode.OK);
        var s = strokeScores.GetProperty("logProb").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var n = noiseScores.GetProperty("logProb").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.True(s.Min() > n.Max(), $"strokes {s.Min():F1}..{s.Max():F1}, noise {n.Min():F1}..{n.Max():F1}");
        // bits/dim per image, fewer than the uniform 8-bit model's 8.
        var bits = strokeScores.GetProperty("bitsPerDim").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        // An absolute tolerance, not rounding to 4 decimals: bitsPerDim is written as a float, and a value that lands on a
        // rounding boundary (4.81385) rounds the other way from its double-precision recomputation (4.8138498).
        for (int i = 0; i < s.Length; i++)
            Assert.Equal(-s[i] / (64 * Math.Log(2)), bits[i], 1e-5);
        Assert.True(bits.Average() < 7, $"{bits.Average()} bits/dim");
        Assert.All(noiseScores.GetProperty("anomaly").EnumerateArray(), a => Assert.True(a.GetBoolean()));

        // The same images as a uint8 .npy shaped (N, H, W), on the codec the dataset uploads use: the same log p as JSON rows of their values.
        var raw = Strokes(5, 9);
        var asNpy = await (await client.PostAsync("/score?model=strokes", Body(Npy("|u1", "5, 8, 8", raw), "application/x-npy"))).AssertJson(HttpStatusCode.OK);
        var asJson = await (await client.PostAsJsonAsync("/score", new { model = "strokes", rows = Rows(raw.Select(v => (double)v).ToArray()) })).AssertJson(HttpStatusCode.OK);
        for (int i = 0; i < 5; i++)
            Assert.Equal(asJson.GetProperty("logProb")[i].GetDouble(), asNpy.GetProperty("logProb")[i].GetDouble(), 4);
        Assert.Equal("shape", (await (await client.PostAsync("/score?model=strokes", Body(Npy("|u1", "5, 8, 7", raw[..280]), "application/x-npy")))
            .AssertProblem(HttpStatusCode.BadRequest)).Text("field"));

        // The same images as nested JSON arrays, [H][W] and [C][H][W]: the same log p as flat rows; a misshapen one names its place.
        double[][][] Nested(byte[] values) => values.Chunk(64).Select(image => image.Chunk(8).Select(row => row.Select(v => (double)v).ToArray()).ToArray()).ToArray();
        var asNested = await (await client.PostAsJsonAsync("/score", new { model = "strokes", rows = Nested(raw) })).AssertJson(HttpStatusCode.OK);
        var asChannels = await (await client.PostAsJsonAsync("/score", new { model = "strokes", rows = Nested(raw).Select(image => new[] { image }).ToArray() }))
            .AssertJson(HttpStatusCode.OK);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(asJson.GetProperty("logProb")[i].GetDouble(), asNested.GetProperty("logProb")[i].GetDouble());
            Assert.Equal(asJson.GetProperty("logProb")[i].GetDouble(), asChannels.GetProperty("logProb")[i].GetDouble());
        }
        var shortRow = Nested(raw);
        shortRow[1][6] = shortRow[1][6][..7];
        var misshapen = await (await client.PostAsJsonAsync("/score", new { model = "strokes", rows = shortRow })).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("rows[1][6]", misshapen.Text("field"));
        Assert.Contains("[8][8]", misshapen.Text("detail"));
        var tooDeep = await (await client.PostAsJsonAsync("/score", new { model = "strokes", rows = new[] { new[] { Nested(raw) } } })).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal("rows[0]", tooDeep.Text("field"));

        // Samples decode through the exact inverse into the pixel range (up to the logit's α margin).
        var sample = await (await client.GetAsync("/sample?model=strokes&n=8&seed=2&temperature=0.7")).AssertJson(HttpStatusCode.OK);
        Assert.All(sample.GetProperty("rows").EnumerateArray().SelectMany(r => r.EnumerateArray()), v => Assert.InRange(v.GetDouble(), -15, 271));

        // Accept: application/x-npy: the same samples as uint8 pixels shaped (n, H, W), floor(x) clamped to 0..255.
        var npyRequest = new HttpRequestMessage(HttpMethod.Get, "/sample?model=strokes&n=8&seed=2&temperature=0.7");
        npyRequest.Headers.Accept.ParseAdd("application/x-npy");
        var npy = await client.SendAsync(npyRequest);
        Assert.Equal(HttpStatusCode.OK, npy.StatusCode);
        var npyBytes = await npy.Content.ReadAsByteArrayAsync();
        int headerLength = BinaryPrimitives.ReadUInt16LittleEndian(npyBytes.AsSpan(8));
        string header = Encoding.ASCII.GetString(npyBytes, 10, headerLength);
        Assert.Contains("'descr': '|u1'", header);
        Assert.Contains("'shape': (8, 8, 8)", header);
        Assert.Equal(10 + headerLength + 8 * 64, npyBytes.Length);
        Assert.Equal(npyBytes.Length, npy.Content.Headers.ContentLength);
        var sampled = sample.GetProperty("rows").EnumerateArray().SelectMany(r => r.EnumerateArray()).Select(v => (byte)Math.Clamp(Math.Floor(v.GetDouble()), 0, 255)).ToArray();
        Assert.Equal(sampled, npyBytes[(10 + headerLength)..]);

        // Accept: image/png: one grid of the samples (9 tiles of 8x8 in 3 columns, 2-pixel borders), at most 256.
        var png = new HttpRequestMessage(HttpMethod.Get, "/sample?model=strokes&n=9&seed=2&temperature=0.7");
        png.Headers.Accept.ParseAdd("image/png");
        var grid = await client.SendAsync(png);
        Assert.Equal(HttpStatusCode.OK, grid.StatusCode);
        Assert.Equal("image/png", grid.Content.Headers.ContentType?.MediaType);
        var bytes = await grid.Content.ReadAsByteArrayAsync();
        Assert.Equal(0x89, bytes[0]);
        Assert.Equal(3 * 10 + 2, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16)));
        var tooMany = new HttpRequestMessage(HttpMethod.Get, "/sample?model=strokes&n=257");
        tooMany.Headers.Accept.ParseAdd("image/png");
        Assert.Equal("n", (await (await client.SendAsync(tooMany)).AssertProblem(HttpStatusCode.BadRequest)).Text("field"));
    }

    [Fact]
    public async Task Npy_images_of_3_and_4_dimensions_are_image_datasets()
    {
        await using var factory = new FlowServiceFactory(StoreBackend.Sqlite, worker: false);
        var client = factory.CreateClient();
        var grey = await (await client.PostAsync("/datasets?name=grey", Body(Npy("|u1", "3, 4, 2", Strokes(1, 1)[..24]), "application/x-npy"))).AssertJson(HttpStatusCode.Created);
        Assert.Equal(8, grey.GetProperty("columns").GetArrayLength());
        Assert.Equal(3, grey.GetProperty("rows").GetInt32());
        var floats = new float[2 * 3 * 2 * 2];
        for (int i = 0; i < floats.Length; i++)
            floats[i] = i / 24f;
        var bytes = new byte[floats.Length * 4];
        Buffer.BlockCopy(floats, 0, bytes, 0, bytes.Length);
        var rgb = await (await client.PostAsync("/datasets?name=rgb", Body(Npy("<f4", "2, 3, 2, 2", bytes), "application/x-npy"))).AssertJson(HttpStatusCode.Created);
        var image = rgb.GetProperty("image");
        Assert.Equal(3, image.GetProperty("channels").GetInt32());
        Assert.False(image.GetProperty("discrete").GetBoolean());
        Assert.Equal(23 / 24.0, image.GetProperty("max").GetDouble(), 6);
        // A realnvp job on [0, 1) floats gets the image shape and a pixel range of 1.
        var job = await (await client.PostAsJsonAsync("/jobs", new { datasetId = rgb.Text("id"), model = "rgb", flow = new { type = "glow", steps = 1, channels = 4 } }))
            .AssertJson(HttpStatusCode.Accepted);
        Assert.Equal(1.0, job.GetProperty("flow").GetProperty("pixelRange").GetDouble());
    }

    [Fact]
    public async Task Bad_image_bodies_are_problems_that_say_what_is_wrong()
    {
        await using var factory = new FlowServiceFactory(StoreBackend.Sqlite, worker: false);
        var client = factory.CreateClient();
        async Task<JsonElement> Rejected(byte[] body, string mediaType, HttpStatusCode status = HttpStatusCode.BadRequest) =>
            await (await client.PostAsync("/datasets?name=bad", Body(body, mediaType))).AssertProblem(status);

        var labels = await Rejected(Idx(new byte[10], 10), "application/x-idx");
        Assert.Contains("labels", labels.Text("detail"));
        Assert.Contains("needs 128", (await Rejected(Idx(new byte[127], 2, 8, 8), "application/x-idx")).Text("detail"));
        Assert.Contains("0x0d", (await Rejected([0, 0, 0x0D, 3, 0, 0, 0, 1], "application/octet-stream")).Text("detail"));

        var nan = new float[2 * 2 * 2];
        nan[5] = float.NaN;
        var bytes = new byte[nan.Length * 4];
        Buffer.BlockCopy(nan, 0, bytes, 0, bytes.Length);
        var notFinite = await Rejected(Npy("<f4", "2, 2, 2", bytes), "application/x-npy");
        Assert.Equal(2, notFinite.GetProperty("row").GetInt32());
        Assert.Equal("c0_y0_x1", notFinite.Text("column"));

        var tooLarge = await Rejected(Npy("|u1", "1, 200, 200", new byte[40000]), "application/x-npy");
        Assert.Contains("MaxImageValues", tooLarge.Text("detail"));
        Assert.Contains("at least 2", (await Rejected(Npy("|u1", "1, 2, 2", new byte[4]), "application/x-npy")).Text("detail"));
        await (await client.PostAsync("/datasets?name=bad&columns=a,b", Body(Gzip(Idx(new byte[8], 2, 2, 2)), "application/x-idx"))).AssertProblem(HttpStatusCode.BadRequest);
        Assert.Equal(0, (await (await client.GetAsync("/datasets")).AssertJson(HttpStatusCode.OK)).GetArrayLength());
    }
}
